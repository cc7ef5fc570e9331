"""Prompt caching through the ChatModel port, checked on the bodies the local provider servers received.

Anthropic: ``cache_control`` breakpoints on the last tool, the system prompt and the last two user turns (at
most four); the local server, which keeps a prompt cache as the Messages API does, then reports cache writes
and reads. OpenAI: ``prompt_cache_key`` only to OpenAI itself. Gemini: implicit, nothing is sent.
A golden test runs the real agent loop and proves the rendered prefix is byte-stable step to step.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from asynccoder.adapters.ai.anthropic_chat import AnthropicChatModel
from asynccoder.adapters.ai.gemini_chat import GeminiChatModel
from asynccoder.adapters.ai.openai_chat import OpenAIChatModel
from asynccoder.adapters.memory.code_hosting import InMemoryCodeHost
from asynccoder.adapters.memory.store import InMemoryStore
from asynccoder.adapters.memory.uow import InMemoryUnitOfWork
from asynccoder.application.agent.coding_agent import CodingAgent
from asynccoder.domain.ai import ChatRequest, Message, MessageRole, TextBlock, ToolCall, ToolResult, Usage
from asynccoder.domain.tasks import TaskMode
from tests.support import anthropic_server as wire
from tests.support import gemini_server, openai_server
from tests.support.agent_runtime import (
    NOW,
    FixedPriceBudget,
    FixedPriceModels,
    LocalWorkspaces,
    SimpleToolbox,
    make_execution,
    make_remote,
    no_secrets,
)
from tests.support.ai import READ_FILE, fast_options
from tests.support.anthropic_server import AnthropicServer, PromptCache, count_breakpoints
from tests.support.system import ManualClock, SequentialIdGenerator

KEY = "sk-ant-test-key"
GOLDEN = Path(__file__).parent / "golden" / "anthropic_agent_step1.json"
SEARCH = dataclasses.replace(READ_FILE, name="search", description="Search the repository.")


def conversation(**changes: Any) -> ChatRequest:
    request = ChatRequest(
        model="claude-sonnet-4-6",
        system="You are a careful engineer.",
        tools=(READ_FILE, SEARCH),
        messages=(
            Message.user("Fix the bug."),
            Message(MessageRole.ASSISTANT, (ToolCall("t1", "read_file", {"path": "a.py"}),)),
            Message(MessageRole.USER, (ToolResult("t1", "x = 1"),)),
        ),
        max_tokens=256,
        cache_key="0192d5a0-0000-7000-8000-000000000001",
        cache_prefix=True,
    )
    return dataclasses.replace(request, **changes)


@pytest.fixture
def anthropic() -> Iterator[AnthropicServer]:
    with AnthropicServer(api_key=KEY, prompt_cache=PromptCache(min_tokens=32)) as server:
        yield server


def anthropic_model(server: AnthropicServer, http_client: httpx2.AsyncClient) -> AnthropicChatModel:
    options, _ = fast_options()
    return AnthropicChatModel(api_key=KEY, base_url=server.base_url, options=options, http_client=http_client)


async def test_anthropic_marks_the_last_tool_the_system_prompt_and_the_latest_user_turns(
    anthropic: AnthropicServer, http_client: httpx2.AsyncClient
) -> None:
    anthropic.enqueue(wire.message("ok"))

    await anthropic_model(anthropic, http_client).complete(conversation())

    body = anthropic.requests[-1].body
    assert "cache_control" not in body["tools"][0]
    assert body["tools"][-1]["cache_control"] == {"type": "ephemeral"}
    assert body["system"] == [
        {"type": "text", "text": "You are a careful engineer.", "cache_control": {"type": "ephemeral"}}
    ]
    assert body["messages"][2]["content"][-1]["cache_control"] == {"type": "ephemeral"}
    assert body["messages"][0]["content"][-1]["cache_control"] == {"type": "ephemeral"}
    assert "cache_control" not in json.dumps(body["messages"][1])
    assert count_breakpoints(body) == 4


async def test_anthropic_sends_no_markers_unless_asked(
    anthropic: AnthropicServer, http_client: httpx2.AsyncClient
) -> None:
    anthropic.enqueue(wire.message("ok"))

    await anthropic_model(anthropic, http_client).complete(conversation(cache_prefix=False))

    body = anthropic.requests[-1].body
    assert body["system"] == "You are a careful engineer."
    assert "cache_control" not in json.dumps(body)


async def test_anthropic_never_sends_more_than_four_breakpoints(
    anthropic: AnthropicServer, http_client: httpx2.AsyncClient
) -> None:
    long = (
        *conversation().messages,
        Message(MessageRole.ASSISTANT, (ToolCall("t2", "read_file", {"path": "b.py"}),)),
        Message(MessageRole.USER, (ToolResult("t2", "y = 2"),)),
        Message(MessageRole.ASSISTANT, (ToolCall("t3", "read_file", {"path": "c.py"}),)),
        Message(MessageRole.USER, (ToolResult("t3", "z = 3"), TextBlock("Budget notice."))),
    )
    anthropic.enqueue(wire.message("ok"), wire.message("ok"))
    model = anthropic_model(anthropic, http_client)

    await model.complete(conversation(messages=long))
    await model.complete(conversation(messages=long, system=None, tools=()))

    assert [count_breakpoints(r.body) for r in anthropic.requests] == [4, 2]
    last_turn = anthropic.requests[0].body["messages"][-1]["content"]
    assert "cache_control" in last_turn[-1]
    assert "cache_control" not in last_turn[0]


async def test_the_local_server_reports_a_cache_write_then_a_read_of_the_repeated_prefix(
    anthropic: AnthropicServer, http_client: httpx2.AsyncClient
) -> None:
    anthropic.enqueue(wire.message("ok"), wire.message("ok"))
    model = anthropic_model(anthropic, http_client)
    first = conversation()
    grown = (
        *first.messages,
        Message(MessageRole.ASSISTANT, (ToolCall("t2", "read_file", {"path": "b.py"}),)),
        Message(MessageRole.USER, (ToolResult("t2", "y = 2"),)),
    )

    one = await model.complete(first)
    two = await model.complete(conversation(messages=grown))

    assert one.usage.cache_read_tokens == 0
    assert one.usage.cache_write_tokens > 0
    assert two.usage.cache_read_tokens == one.usage.cache_write_tokens
    assert two.usage.cache_write_tokens > 0
    assert two.usage.input_tokens == 0  # everything up to the last breakpoint was read or written


async def test_openai_routes_the_task_to_one_cache_with_prompt_cache_key(
    http_client: httpx2.AsyncClient,
) -> None:
    options, _ = fast_options()
    with openai_server.OpenAIServer(api_key="sk-test") as server:
        server.enqueue(
            openai_server.completion("ok"), openai_server.completion("ok"), openai_server.completion("ok")
        )
        own = OpenAIChatModel(
            api_key="sk-test", base_url=server.api_base, options=options, http_client=http_client
        )
        compatible = OpenAIChatModel(
            api_key="sk-test",
            base_url=server.api_base,
            options=options,
            http_client=http_client,
            provider_name="openai_compatible",
        )

        await own.complete(conversation())
        await own.complete(conversation(cache_key=None))
        await compatible.complete(conversation())

    bodies = [r.body for r in server.requests]
    assert bodies[0]["prompt_cache_key"] == "0192d5a0-0000-7000-8000-000000000001"
    assert "prompt_cache_key" not in bodies[1]
    assert "prompt_cache_key" not in bodies[2]
    assert "cache_control" not in json.dumps(bodies)


async def test_gemini_caches_implicitly_so_the_request_is_unchanged(http_client: httpx2.AsyncClient) -> None:
    options, _ = fast_options()
    with gemini_server.GeminiServer(api_key="gemini-test-key") as server:
        server.enqueue(gemini_server.content("ok"), gemini_server.content("ok"))
        model = GeminiChatModel(
            api_key="gemini-test-key", base_url=server.base_url, options=options, http_client=http_client
        )

        await model.complete(conversation(model="gemini-2.5-flash"))
        await model.complete(conversation(model="gemini-2.5-flash", cache_prefix=False, cache_key=None))

    assert server.requests[0].body == server.requests[1].body


# --- golden: the agent's rendered requests -----------------------------------------------------------------
def strip_markers(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: strip_markers(v) for k, v in value.items() if k != "cache_control"}
    if isinstance(value, list):
        return [strip_markers(v) for v in value]
    return value


def rendered(value: Any) -> str:
    """The body as bytes in the order the SDK sent its keys (parsing keeps the order)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


async def test_golden_the_agents_prefix_is_byte_stable_across_steps_and_the_markers_are_sent(
    tmp_path: Path, http_client: httpx2.AsyncClient
) -> None:
    remote = make_remote(
        tmp_path / "origin", {"app.py": "def add(a, b):\n    return a - b\n", "README.md": "# App\n"}
    )
    (tmp_path / "work").mkdir()
    cache = PromptCache(min_tokens=64)
    with AnthropicServer(api_key=KEY, prompt_cache=cache) as server:
        server.enqueue(
            wire.message(None, tool_calls=[("toolu_1", "view", {"path": "app.py"})]),
            wire.message("Checking the readme.", tool_calls=[("toolu_2", "view", {"path": "README.md"})]),
            wire.message(
                None,
                tool_calls=[("toolu_3", "submit", {"answer": "`add` subtracts.", "cited_files": ["app.py"]})],
            ),
        )
        models = FixedPriceModels(anthropic_model(server, http_client), FixedPriceBudget())
        agent = CodingAgent(
            workspaces=LocalWorkspaces(remote, tmp_path / "work"),
            toolbox=SimpleToolbox(),
            code_host=InMemoryCodeHost(),
            uow=InMemoryUnitOfWork(InMemoryStore()),
            clock=ManualClock(NOW),
            ids=SequentialIdGenerator(),
            scan_secrets=no_secrets,
        )

        outcome = await agent.run(make_execution(TaskMode.ASK, models, instructions="What does add do?"))

    assert outcome.result is not None
    bodies = [r.body for r in server.requests]
    assert len(bodies) == 3
    for before, after in itertools.pairwise(bodies):
        old, new = strip_markers(before), strip_markers(after)
        assert rendered(new["tools"]) == rendered(old["tools"])
        assert rendered(new["system"]) == rendered(old["system"])
        assert rendered(new["messages"][: len(old["messages"])]) == rendered(old["messages"])
    for body in bodies:
        assert body["tools"][-1]["cache_control"] == {"type": "ephemeral"}
        assert body["system"][-1]["cache_control"] == {"type": "ephemeral"}
        assert body["messages"][-1]["content"][-1]["cache_control"] == {"type": "ephemeral"}
        assert count_breakpoints(body) <= 4
    usage = [
        Usage(c.input_tokens, c.output_tokens, c.cache_read_tokens, c.cache_write_tokens)
        for c in models.budget.calls()
    ]
    assert usage[0].cache_read_tokens == 0
    assert usage[0].cache_write_tokens > 0
    assert all(u.cache_read_tokens > 0 for u in usage[1:])
    # The first request, byte for byte (regenerate deliberately with UPDATE_GOLDEN=1 after a reviewed change).
    actual = json.dumps(bodies[0], indent=1, ensure_ascii=False) + "\n"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(actual)
    assert actual == GOLDEN.read_text()
