"""On Claude, the agent's ``edit`` tool is Anthropic's native text editor (``text_editor_20250728``, named
``str_replace_based_edit_tool``): the request declares the native tool, history and replies are mapped back
to ``edit``, results go back as plain ``tool_result`` blocks. Through the real SDK and the local server."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from asynccoder.adapters.agent_tools.editor import EDIT_DEFINITION
from asynccoder.adapters.ai.anthropic_chat import AnthropicChatModel
from asynccoder.domain.ai import ChatRequest, Message, MessageRole, StreamDone, ToolCall, ToolResult
from tests.support import anthropic_server as wire
from tests.support.ai import READ_FILE, fast_options
from tests.support.anthropic_server import AnthropicServer

KEY = "sk-ant-test-key"
GOLDEN = Path(__file__).parent / "golden" / "anthropic_text_editor_request.json"
NATIVE = {"type": "text_editor_20250728", "name": "str_replace_based_edit_tool"}


@pytest.fixture
def anthropic() -> Iterator[AnthropicServer]:
    with AnthropicServer(api_key=KEY) as server:
        yield server


def claude(server: AnthropicServer, http_client: httpx2.AsyncClient) -> AnthropicChatModel:
    options, _ = fast_options()
    return AnthropicChatModel(api_key=KEY, base_url=server.base_url, options=options, http_client=http_client)


def editing(model: str = "claude-sonnet-4-6") -> ChatRequest:
    return ChatRequest(
        model=model,
        system="You are a careful engineer.",
        tools=(EDIT_DEFINITION, READ_FILE),
        messages=(
            Message.user("Fix add."),
            Message(
                MessageRole.ASSISTANT,
                (ToolCall("toolu_1", "edit", {"command": "view", "path": "app.py", "view_range": [1, 2]}),),
            ),
            Message(
                MessageRole.USER, (ToolResult("toolu_1", "     1\tdef add(a, b):\n     2\t    return a - b"),)
            ),
            Message(
                MessageRole.ASSISTANT,
                (
                    ToolCall(
                        "toolu_2",
                        "edit",
                        {"command": "str_replace", "path": "nope.py", "old_str": "x", "new_str": "y"},
                    ),
                ),
            ),
            Message(MessageRole.USER, (ToolResult("toolu_2", "No file nope.py.", is_error=True),)),
        ),
        max_tokens=512,
    )


async def test_on_claude_edit_is_sent_as_the_native_text_editor_and_its_calls_come_back_as_edit(
    anthropic: AnthropicServer, http_client: httpx2.AsyncClient
) -> None:
    fix = {"command": "str_replace", "path": "app.py", "old_str": "a - b", "new_str": "a + b"}
    anthropic.enqueue(wire.message(None, tool_calls=[("toolu_3", "str_replace_based_edit_tool", fix)]))

    response = await claude(anthropic, http_client).complete(editing())

    assert response.tool_calls == (ToolCall("toolu_3", "edit", fix),)
    body = anthropic.requests[-1].body
    assert body["tools"][0] == NATIVE
    assert body["tools"][1]["name"] == "read_file"
    history = body["messages"]
    assert [b["name"] for m in history for b in m["content"] if b["type"] == "tool_use"] == [
        "str_replace_based_edit_tool",
        "str_replace_based_edit_tool",
    ]
    assert history[2]["content"][0] == {
        "type": "tool_result",
        "tool_use_id": "toolu_1",
        "content": "     1\tdef add(a, b):\n     2\t    return a - b",
        "is_error": False,
    }
    assert history[4]["content"][0]["is_error"] is True
    # The whole request, byte for byte (regenerate deliberately with UPDATE_GOLDEN=1 after a reviewed change).
    actual = json.dumps(body, indent=1, ensure_ascii=False) + "\n"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        GOLDEN.write_text(actual)
    assert actual == GOLDEN.read_text()


async def test_a_streamed_native_editor_call_comes_back_as_edit(
    anthropic: AnthropicServer, http_client: httpx2.AsyncClient
) -> None:
    view = {"command": "view", "path": "src"}
    anthropic.enqueue(wire.stream((), tool_calls=[("toolu_9", "str_replace_based_edit_tool", view)]))

    events = [e async for e in claude(anthropic, http_client).stream(editing())]

    done = events[-1]
    assert isinstance(done, StreamDone)
    assert done.response.tool_calls == (ToolCall("toolu_9", "edit", view),)
    assert anthropic.requests[-1].body["tools"][0] == NATIVE


async def test_claude_3_models_get_the_edit_tool_as_a_custom_tool(
    anthropic: AnthropicServer, http_client: httpx2.AsyncClient
) -> None:
    anthropic.enqueue(wire.message("ok", model="claude-3-5-haiku-20241022"))

    await claude(anthropic, http_client).complete(editing("claude-3-5-haiku-20241022"))

    body = anthropic.requests[-1].body
    assert body["tools"][0]["name"] == "edit"
    assert body["tools"][0]["input_schema"] == EDIT_DEFINITION.input_schema
    assert body["messages"][1]["content"][0]["name"] == "edit"


async def test_the_local_server_refuses_a_native_editor_declared_under_another_name(
    anthropic: AnthropicServer, http_client: httpx2.AsyncClient
) -> None:
    headers = {"x-api-key": KEY, "anthropic-version": "2023-06-01"}
    body = {
        "model": "claude-sonnet-4-6",
        "max_tokens": 16,
        "messages": [{"role": "user", "content": "hi"}],
        "tools": [{"type": "text_editor_20250728", "name": "edit"}],
    }

    refused = await http_client.post(f"{anthropic.base_url}/v1/messages", json=body, headers=headers)

    assert refused.status_code == 400
    assert refused.json()["error"]["type"] == "invalid_request_error"
    assert "str_replace_based_edit_tool" in refused.json()["error"]["message"]
