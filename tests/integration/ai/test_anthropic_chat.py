"""AnthropicChatModel through the real ``anthropic`` SDK against a local Messages API server."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx2
import pytest

from asynccoder.adapters.ai.anthropic_chat import AnthropicChatModel
from asynccoder.domain.ai import (
    Message,
    MessageRole,
    ProviderOverloaded,
    StopReason,
    StreamDone,
    TextDelta,
    ToolCall,
    ToolResult,
    Usage,
)
from tests.support import anthropic_server as wire
from tests.support.ai import READ_FILE, RecordingSleep, fast_options, hello_request
from tests.support.anthropic_server import AnthropicServer
from tests.support.fake_http import Reply

KEY = "sk-ant-test-key"


@pytest.fixture
def server() -> Iterator[AnthropicServer]:
    with AnthropicServer(api_key=KEY) as srv:
        yield srv


@pytest.fixture
def make_model(server: AnthropicServer, http_client: httpx2.AsyncClient) -> ModelMaker:
    def make(
        *, attempts: int = 3, read_timeout: float = 5.0, key: str = KEY
    ) -> tuple[AnthropicChatModel, RecordingSleep]:
        options, sleep = fast_options(attempts, read_timeout=read_timeout)
        model = AnthropicChatModel(
            api_key=key, base_url=server.base_url, options=options, http_client=http_client
        )
        return model, sleep

    return make


ModelMaker = Callable[..., tuple[AnthropicChatModel, RecordingSleep]]


async def test_a_plain_answer_maps_text_stop_reason_usage_and_the_answering_model(
    server: AnthropicServer, make_model: ModelMaker
) -> None:
    server.enqueue(
        wire.message(
            "Hello!",
            model="claude-haiku-4-5-20251001",
            usage={
                "input_tokens": 20,
                "output_tokens": 5,
                "cache_read_input_tokens": 100,
                "cache_creation_input_tokens": 30,
            },
        )
    )
    model, _ = make_model()

    response = await model.complete(hello_request("claude-haiku-4-5"))

    assert response.text == "Hello!"
    assert response.model == "claude-haiku-4-5-20251001"
    assert response.stop_reason is StopReason.END_TURN
    assert response.usage == Usage(20, 5, cache_read_tokens=100, cache_write_tokens=30)
    assert response.provider_request_id is not None
    sent = server.requests[0]
    assert sent.header("anthropic-version")
    assert sent.body["model"] == "claude-haiku-4-5"
    assert sent.body["system"] == "Be brief."
    assert sent.body["max_tokens"] == 256
    assert sent.body["messages"] == [{"role": "user", "content": [{"type": "text", "text": "Say hello"}]}]


async def test_streaming_yields_text_deltas_then_the_whole_response(
    server: AnthropicServer, make_model: ModelMaker
) -> None:
    server.enqueue(wire.stream(["Hel", "lo", "!"], usage={"input_tokens": 9, "output_tokens": 3}))
    model, _ = make_model()

    events = [e async for e in model.stream(hello_request())]

    assert [e.text for e in events if isinstance(e, TextDelta)] == ["Hel", "lo", "!"]
    done = events[-1]
    assert isinstance(done, StreamDone)
    assert done.response.text == "Hello!"
    assert done.response.usage == Usage(9, 3)
    assert done.response.stop_reason is StopReason.END_TURN
    assert server.requests[0].body["stream"] is True


async def test_a_tool_use_round_trip_sends_the_result_back_and_gets_the_final_answer(
    server: AnthropicServer, make_model: ModelMaker
) -> None:
    server.enqueue(
        wire.message("Let me look.", tool_calls=[("toolu_01", "read_file", {"path": "README.md"})]),
        wire.message("The README says hi."),
    )
    model, _ = make_model()
    first_request = hello_request(tools=(READ_FILE,))

    first = await model.complete(first_request)
    assert first.stop_reason is StopReason.TOOL_USE
    assert first.tool_calls == (ToolCall("toolu_01", "read_file", {"path": "README.md"}),)
    follow_up = hello_request(
        tools=(READ_FILE,),
        messages=(
            *first_request.messages,
            Message(MessageRole.ASSISTANT, first.content),
            Message(MessageRole.USER, (ToolResult("toolu_01", "hi"),)),
        ),
    )
    final = await model.complete(follow_up)

    assert final.text == "The README says hi."
    assert server.requests[0].body["tools"] == [
        {"name": "read_file", "description": READ_FILE.description, "input_schema": READ_FILE.input_schema}
    ]
    sent = server.requests[1].body["messages"]
    assert sent[1]["content"][1] == {
        "type": "tool_use",
        "id": "toolu_01",
        "name": "read_file",
        "input": {"path": "README.md"},
    }
    assert sent[2]["content"] == [
        {"type": "tool_result", "tool_use_id": "toolu_01", "content": "hi", "is_error": False}
    ]


async def test_streamed_tool_calls_are_assembled_from_json_deltas(
    server: AnthropicServer, make_model: ModelMaker
) -> None:
    server.enqueue(wire.stream(["Reading"], tool_calls=[("toolu_9", "read_file", {"path": "a/b.py"})]))
    model, _ = make_model()

    events = [e async for e in model.stream(hello_request(tools=(READ_FILE,)))]

    done = events[-1]
    assert isinstance(done, StreamDone)
    assert done.response.tool_calls == (ToolCall("toolu_9", "read_file", {"path": "a/b.py"}),)
    assert done.response.stop_reason is StopReason.TOOL_USE


async def test_retry_after_ms_is_preferred_to_retry_after(
    server: AnthropicServer, make_model: ModelMaker
) -> None:
    server.enqueue(wire.rate_limited("7", ms="1500"), wire.message("ok"))
    model, sleep = make_model()

    await model.complete(hello_request())

    assert sleep.delays == [1.5]


async def test_an_overloaded_error_event_before_any_text_retries_the_stream(
    server: AnthropicServer, make_model: ModelMaker
) -> None:
    server.enqueue(wire.stream(error_event="overloaded_error"), wire.stream(["fine"]))
    model, sleep = make_model()

    events = [e async for e in model.stream(hello_request())]

    assert [e.text for e in events if isinstance(e, TextDelta)] == ["fine"]
    assert len(sleep.delays) == 1


async def test_an_error_event_after_text_was_streamed_is_final(
    server: AnthropicServer, make_model: ModelMaker
) -> None:
    frames = wire.stream(["partial"]).sse
    assert frames is not None
    error = (
        b'event: error\ndata: {"type": "error", "error": {"type": "overloaded_error", "message": "x"}}\n\n'
    )
    server.enqueue(Reply.stream([*frames[:4], error]), wire.stream(["never"]))
    model, sleep = make_model()

    seen: list[object] = []
    with pytest.raises(ProviderOverloaded):
        async for event in model.stream(hello_request()):
            seen.append(event)

    assert seen == [TextDelta("partial")]
    assert sleep.delays == []
    assert server.pending == 1
