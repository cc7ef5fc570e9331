"""OpenAIChatModel through the real ``openai`` SDK against a local Chat Completions server."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx2
import pytest

from asynccoder.adapters.ai.openai_chat import OpenAIChatModel
from asynccoder.domain.ai import (
    Message,
    MessageRole,
    StopReason,
    StreamDone,
    TextDelta,
    ToolCall,
    ToolResult,
    Usage,
)
from tests.support import openai_server as wire
from tests.support.ai import READ_FILE, RecordingSleep, fast_options, hello_request
from tests.support.openai_server import OpenAIServer

KEY = "sk-proj-test-key"


@pytest.fixture
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer(api_key=KEY) as srv:
        yield srv


@pytest.fixture
def make_model(server: OpenAIServer, http_client: httpx2.AsyncClient) -> ModelMaker:
    def make(
        *, attempts: int = 3, read_timeout: float = 5.0, key: str = KEY
    ) -> tuple[OpenAIChatModel, RecordingSleep]:
        options, sleep = fast_options(attempts, read_timeout=read_timeout)
        model = OpenAIChatModel(
            api_key=key, base_url=server.api_base, options=options, http_client=http_client
        )
        return model, sleep

    return make


ModelMaker = Callable[..., tuple[OpenAIChatModel, RecordingSleep]]


async def test_a_plain_answer_maps_text_stop_reason_usage_and_the_answering_model(
    server: OpenAIServer, make_model: ModelMaker
) -> None:
    server.enqueue(
        wire.completion(
            "Hello!",
            model="gpt-4.1-mini-2025-04-14",
            usage={"prompt_tokens": 120, "completion_tokens": 5, "cached_tokens": 100},
        )
    )
    model, _ = make_model()

    response = await model.complete(hello_request("gpt-4.1-mini"))

    assert response.text == "Hello!"
    assert response.model == "gpt-4.1-mini-2025-04-14"
    assert response.stop_reason is StopReason.END_TURN
    assert response.usage == Usage(20, 5, cache_read_tokens=100)
    assert response.provider_request_id is not None
    sent = server.requests[0]
    assert sent.body["model"] == "gpt-4.1-mini"
    assert sent.body["max_completion_tokens"] == 256
    assert sent.body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Say hello"},
    ]


async def test_streaming_yields_text_deltas_then_the_whole_response(
    server: OpenAIServer, make_model: ModelMaker
) -> None:
    server.enqueue(wire.stream(["Hel", "lo", "!"], usage={"prompt_tokens": 9, "completion_tokens": 3}))
    model, _ = make_model()

    events = [e async for e in model.stream(hello_request())]

    assert [e.text for e in events if isinstance(e, TextDelta)] == ["Hel", "lo", "!"]
    done = events[-1]
    assert isinstance(done, StreamDone)
    assert done.response.text == "Hello!"
    assert done.response.usage == Usage(9, 3)
    assert done.response.stop_reason is StopReason.END_TURN
    assert server.requests[0].body["stream"] is True
    assert server.requests[0].body["stream_options"] == {"include_usage": True}


async def test_a_tool_use_round_trip_sends_the_result_back_and_gets_the_final_answer(
    server: OpenAIServer, make_model: ModelMaker
) -> None:
    server.enqueue(
        wire.completion("Let me look.", tool_calls=[("call_01", "read_file", {"path": "README.md"})]),
        wire.completion("The README says hi."),
    )
    model, _ = make_model()
    first_request = hello_request(tools=(READ_FILE,))

    first = await model.complete(first_request)
    assert first.stop_reason is StopReason.TOOL_USE
    assert first.tool_calls == (ToolCall("call_01", "read_file", {"path": "README.md"}),)
    follow_up = hello_request(
        tools=(READ_FILE,),
        messages=(
            *first_request.messages,
            Message(MessageRole.ASSISTANT, first.content),
            Message(MessageRole.USER, (ToolResult("call_01", "hi"),)),
        ),
    )
    final = await model.complete(follow_up)

    assert final.text == "The README says hi."
    assert server.requests[0].body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "read_file",
                "description": READ_FILE.description,
                "parameters": READ_FILE.input_schema,
            },
        }
    ]
    sent = server.requests[1].body["messages"]
    assert sent[2] == {
        "role": "assistant",
        "content": "Let me look.",
        "tool_calls": [
            {
                "id": "call_01",
                "type": "function",
                "function": {"name": "read_file", "arguments": '{"path": "README.md"}'},
            }
        ],
    }
    assert sent[3] == {"role": "tool", "tool_call_id": "call_01", "content": "hi"}


async def test_streamed_tool_calls_are_assembled_from_json_deltas(
    server: OpenAIServer, make_model: ModelMaker
) -> None:
    server.enqueue(wire.stream(["Reading"], tool_calls=[("call_9", "read_file", {"path": "a/b.py"})]))
    model, _ = make_model()

    events = [e async for e in model.stream(hello_request(tools=(READ_FILE,)))]

    done = events[-1]
    assert isinstance(done, StreamDone)
    assert done.response.tool_calls == (ToolCall("call_9", "read_file", {"path": "a/b.py"}),)
    assert done.response.stop_reason is StopReason.TOOL_USE


async def test_retry_after_ms_is_preferred_to_retry_after(
    server: OpenAIServer, make_model: ModelMaker
) -> None:
    server.enqueue(wire.rate_limited("7", ms="1500"), wire.completion("ok"))
    model, sleep = make_model()

    await model.complete(hello_request())

    assert sleep.delays == [1.5]
