"""AnthropicChatModel through the real ``anthropic`` SDK against a local Messages API server."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx2
import pytest

from asynccoder.adapters.ai.anthropic_chat import AnthropicChatModel
from asynccoder.domain.ai import (
    ContextTooLong,
    Message,
    ProviderAuthError,
    ProviderOverloaded,
    ProviderRateLimited,
    ProviderUnavailable,
    Role,
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
            Message(Role.ASSISTANT, first.content),
            Message(Role.USER, (ToolResult("toolu_01", "hi"),)),
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


async def test_a_429_is_retried_after_the_servers_retry_after(
    server: AnthropicServer, make_model: ModelMaker
) -> None:
    server.enqueue(wire.rate_limited("7"), wire.message("ok"))
    model, sleep = make_model()

    response = await model.complete(hello_request())

    assert response.text == "ok"
    assert sleep.delays == [7.0]
    assert len(server.requests) == 2


async def test_retry_after_ms_is_preferred_to_retry_after(
    server: AnthropicServer, make_model: ModelMaker
) -> None:
    server.enqueue(wire.rate_limited("7", ms="1500"), wire.message("ok"))
    model, sleep = make_model()

    await model.complete(hello_request())

    assert sleep.delays == [1.5]


async def test_rate_limits_until_attempts_run_out_raise_rate_limited_with_retry_after(
    server: AnthropicServer, make_model: ModelMaker
) -> None:
    server.enqueue(wire.rate_limited("2"), wire.rate_limited("2"), wire.rate_limited("3"))
    model, sleep = make_model(attempts=3)

    with pytest.raises(ProviderRateLimited) as caught:
        await model.complete(hello_request())

    assert caught.value.retry_after == 3.0
    assert len(server.requests) == 3
    assert len(sleep.delays) == 2


@pytest.mark.parametrize("reply", [wire.overloaded(), wire.unavailable()], ids=["529", "503"])
async def test_overloaded_answers_are_retried_then_reported(
    server: AnthropicServer, make_model: ModelMaker, reply: Reply
) -> None:
    server.enqueue(reply, reply)
    model, sleep = make_model(attempts=2)

    with pytest.raises(ProviderOverloaded):
        await model.complete(hello_request())

    assert len(server.requests) == 2
    assert len(sleep.delays) == 1


async def test_an_overloaded_attempt_followed_by_success_succeeds(
    server: AnthropicServer, make_model: ModelMaker
) -> None:
    server.enqueue(wire.overloaded(), wire.message("after all"))
    model, _ = make_model()

    assert (await model.complete(hello_request())).text == "after all"


async def test_a_wrong_key_is_an_auth_error_and_is_not_retried(
    server: AnthropicServer, make_model: ModelMaker
) -> None:
    model, sleep = make_model(key="sk-ant-wrong")

    with pytest.raises(ProviderAuthError):
        await model.complete(hello_request())

    assert len(server.requests) == 1
    assert sleep.delays == []


async def test_a_context_length_400_is_context_too_long(
    server: AnthropicServer, make_model: ModelMaker
) -> None:
    server.enqueue(wire.context_too_long())
    model, _ = make_model()

    with pytest.raises(ContextTooLong):
        await model.complete(hello_request())


async def test_a_malformed_body_is_unavailable_after_retries(
    server: AnthropicServer, make_model: ModelMaker
) -> None:
    server.enqueue(Reply.raw(b"{not json"), Reply.raw(b'{"type": "message"}'))
    model, _ = make_model(attempts=2)

    with pytest.raises(ProviderUnavailable) as caught:
        await model.complete(hello_request())

    assert caught.value.code == "provider_malformed_response"
    assert len(server.requests) == 2


async def test_a_hanging_server_times_out_as_unavailable(
    server: AnthropicServer, make_model: ModelMaker
) -> None:
    server.enqueue(Reply.hanging(), Reply.hanging())
    model, _ = make_model(attempts=2, read_timeout=0.3)

    with pytest.raises(ProviderUnavailable) as caught:
        await model.complete(hello_request())

    assert caught.value.code == "provider_timeout"
    assert len(server.requests) == 2


async def test_an_overloaded_error_event_before_any_text_retries_the_stream(
    server: AnthropicServer, make_model: ModelMaker
) -> None:
    server.enqueue(wire.stream(error_event="overloaded_error"), wire.stream(["fine"]))
    model, sleep = make_model()

    events = [e async for e in model.stream(hello_request())]

    assert [e.text for e in events if isinstance(e, TextDelta)] == ["fine"]
    assert len(sleep.delays) == 1


async def test_a_stream_cut_short_is_unavailable(server: AnthropicServer, make_model: ModelMaker) -> None:
    server.enqueue(wire.stream(cut_after_start=True))
    model, _ = make_model(attempts=1)

    with pytest.raises(ProviderUnavailable):
        _ = [e async for e in model.stream(hello_request())]


async def test_streaming_rate_limit_is_retried_before_the_first_delta(
    server: AnthropicServer, make_model: ModelMaker
) -> None:
    server.enqueue(wire.rate_limited("1"), wire.stream(["x"]))
    model, sleep = make_model()

    events = [e async for e in model.stream(hello_request())]

    assert isinstance(events[-1], StreamDone)
    assert sleep.delays == [1.0]


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
