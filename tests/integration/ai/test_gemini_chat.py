"""GeminiChatModel through the real ``google-genai`` SDK against a local Gemini API server."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx2
import pytest

from asynccoder.adapters.ai.gemini_chat import GeminiChatModel
from asynccoder.domain.ai import (
    ContextTooLong,
    Message,
    MessageRole,
    ProviderAuthError,
    ProviderOverloaded,
    ProviderRateLimited,
    ProviderUnavailable,
    StopReason,
    StreamDone,
    TextDelta,
    ToolCall,
    ToolResult,
    Usage,
)
from tests.support import gemini_server as wire
from tests.support.ai import READ_FILE, RecordingSleep, fast_options, hello_request
from tests.support.fake_http import Reply
from tests.support.gemini_server import GeminiServer

KEY = "gemini-test-key"


@pytest.fixture
def server() -> Iterator[GeminiServer]:
    with GeminiServer(api_key=KEY) as srv:
        yield srv


@pytest.fixture
def make_model(server: GeminiServer, http_client: httpx2.AsyncClient) -> ModelMaker:
    def make(
        *, attempts: int = 3, read_timeout: float = 5.0, key: str = KEY
    ) -> tuple[GeminiChatModel, RecordingSleep]:
        options, sleep = fast_options(attempts, read_timeout=read_timeout)
        model = GeminiChatModel(
            api_key=key, base_url=server.base_url, options=options, http_client=http_client
        )
        return model, sleep

    return make


ModelMaker = Callable[..., tuple[GeminiChatModel, RecordingSleep]]


async def test_a_plain_answer_maps_text_stop_reason_usage_and_the_answering_model(
    server: GeminiServer, make_model: ModelMaker
) -> None:
    server.enqueue(
        wire.content(
            "Hello!",
            model="gemini-2.5-flash-001",
            usage={
                "promptTokenCount": 120,
                "candidatesTokenCount": 5,
                "thoughtsTokenCount": 10,
                "cachedContentTokenCount": 100,
            },
        )
    )
    model, _ = make_model()

    response = await model.complete(hello_request("gemini-2.5-flash"))

    assert response.text == "Hello!"
    assert response.model == "gemini-2.5-flash-001"
    assert response.stop_reason is StopReason.END_TURN
    assert response.usage == Usage(20, 15, cache_read_tokens=100)
    assert response.provider_request_id is not None
    sent = server.requests[0]
    assert sent.path.endswith("/models/gemini-2.5-flash:generateContent")
    assert sent.body["contents"] == [{"role": "user", "parts": [{"text": "Say hello"}]}]
    assert sent.body["systemInstruction"]["parts"] == [{"text": "Be brief."}]
    assert sent.body["generationConfig"]["maxOutputTokens"] == 256


async def test_streaming_yields_text_deltas_then_the_whole_response(
    server: GeminiServer, make_model: ModelMaker
) -> None:
    server.enqueue(wire.stream(["Hel", "lo", "!"], usage={"promptTokenCount": 9, "candidatesTokenCount": 3}))
    model, _ = make_model()

    events = [e async for e in model.stream(hello_request())]

    assert [e.text for e in events if isinstance(e, TextDelta)] == ["Hel", "lo", "!"]
    done = events[-1]
    assert isinstance(done, StreamDone)
    assert done.response.text == "Hello!"
    assert done.response.usage == Usage(9, 3)
    assert done.response.stop_reason is StopReason.END_TURN
    assert server.requests[0].path.endswith(":streamGenerateContent")
    assert server.requests[0].query["alt"] == ["sse"]


async def test_a_tool_use_round_trip_sends_the_result_back_and_gets_the_final_answer(
    server: GeminiServer, make_model: ModelMaker
) -> None:
    server.enqueue(
        wire.content("Let me look.", tool_calls=[("call_01", "read_file", {"path": "README.md"})]),
        wire.content("The README says hi."),
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
    (declaration,) = server.requests[0].body["tools"][0]["functionDeclarations"]
    # proto3 JSON accepts lowerCamel and snake_case field names; this SDK sends the schema snake_case
    schema = declaration.get("parametersJsonSchema", declaration.get("parameters_json_schema"))
    assert (declaration["name"], declaration["description"], schema) == (
        "read_file",
        READ_FILE.description,
        READ_FILE.input_schema,
    )
    sent = server.requests[1].body["contents"]
    assert sent[1] == {
        "role": "model",
        "parts": [
            {"text": "Let me look."},
            {"functionCall": {"id": "call_01", "name": "read_file", "args": {"path": "README.md"}}},
        ],
    }
    assert sent[2] == {
        "role": "user",
        "parts": [{"functionResponse": {"id": "call_01", "name": "read_file", "response": {"output": "hi"}}}],
    }


async def test_function_calls_without_ids_get_ids_and_results_find_their_function_name(
    server: GeminiServer, make_model: ModelMaker
) -> None:
    server.enqueue(
        wire.content(
            None, tool_calls=[(None, "read_file", {"path": "a"}), (None, "read_file", {"path": "b"})]
        ),
        wire.content("done"),
    )
    model, _ = make_model()
    first = await model.complete(hello_request(tools=(READ_FILE,)))
    ids = [call.id for call in first.tool_calls]
    assert len(set(ids)) == 2
    assert first.stop_reason is StopReason.TOOL_USE

    await model.complete(
        hello_request(
            messages=(
                Message.user("go"),
                Message(MessageRole.ASSISTANT, first.content),
                Message(MessageRole.USER, (ToolResult(ids[0], "A"), ToolResult(ids[1], "B", is_error=True))),
            )
        )
    )

    parts = server.requests[1].body["contents"][2]["parts"]
    assert parts == [
        {"functionResponse": {"name": "read_file", "response": {"output": "A"}}},
        {"functionResponse": {"name": "read_file", "response": {"error": "B"}}},
    ]


async def test_streamed_tool_calls_are_assembled_from_json_deltas(
    server: GeminiServer, make_model: ModelMaker
) -> None:
    server.enqueue(wire.stream(["Reading"], tool_calls=[("call_9", "read_file", {"path": "a/b.py"})]))
    model, _ = make_model()

    events = [e async for e in model.stream(hello_request(tools=(READ_FILE,)))]

    done = events[-1]
    assert isinstance(done, StreamDone)
    assert done.response.tool_calls == (ToolCall("call_9", "read_file", {"path": "a/b.py"}),)
    assert done.response.stop_reason is StopReason.TOOL_USE


async def test_a_429_is_retried_after_the_servers_retry_after(
    server: GeminiServer, make_model: ModelMaker
) -> None:
    server.enqueue(wire.rate_limited("7"), wire.content("ok"))
    model, sleep = make_model()

    response = await model.complete(hello_request())

    assert response.text == "ok"
    assert sleep.delays == [7.0]
    assert len(server.requests) == 2


async def test_rate_limits_until_attempts_run_out_raise_rate_limited_with_retry_after(
    server: GeminiServer, make_model: ModelMaker
) -> None:
    server.enqueue(wire.rate_limited("2"), wire.rate_limited("2"), wire.rate_limited("3"))
    model, sleep = make_model(attempts=3)

    with pytest.raises(ProviderRateLimited) as caught:
        await model.complete(hello_request())

    assert caught.value.retry_after == 3.0
    assert len(server.requests) == 3
    assert len(sleep.delays) == 2


@pytest.mark.parametrize("reply", [wire.overloaded()], ids=["503"])
async def test_overloaded_answers_are_retried_then_reported(
    server: GeminiServer, make_model: ModelMaker, reply: Reply
) -> None:
    server.enqueue(reply, reply)
    model, sleep = make_model(attempts=2)

    with pytest.raises(ProviderOverloaded):
        await model.complete(hello_request())

    assert len(server.requests) == 2
    assert len(sleep.delays) == 1


async def test_an_overloaded_attempt_followed_by_success_succeeds(
    server: GeminiServer, make_model: ModelMaker
) -> None:
    server.enqueue(wire.overloaded(), wire.content("after all"))
    model, _ = make_model()

    assert (await model.complete(hello_request())).text == "after all"


async def test_a_wrong_key_is_an_auth_error_and_is_not_retried(
    server: GeminiServer, make_model: ModelMaker
) -> None:
    model, sleep = make_model(key="gemini-wrong")

    with pytest.raises(ProviderAuthError):
        await model.complete(hello_request())

    assert len(server.requests) == 1
    assert sleep.delays == []


async def test_a_context_length_400_is_context_too_long(server: GeminiServer, make_model: ModelMaker) -> None:
    server.enqueue(wire.context_too_long())
    model, _ = make_model()

    with pytest.raises(ContextTooLong):
        await model.complete(hello_request())


async def test_a_malformed_body_is_unavailable_after_retries(
    server: GeminiServer, make_model: ModelMaker
) -> None:
    server.enqueue(Reply.raw(b"{not json"), Reply.raw(b'{"type": "message"}'))
    model, _ = make_model(attempts=2)

    with pytest.raises(ProviderUnavailable) as caught:
        await model.complete(hello_request())

    assert caught.value.code == "provider_malformed_response"
    assert len(server.requests) == 2


async def test_a_hanging_server_times_out_as_unavailable(
    server: GeminiServer, make_model: ModelMaker
) -> None:
    server.enqueue(Reply.hanging(), Reply.hanging())
    model, _ = make_model(attempts=2, read_timeout=0.3)

    with pytest.raises(ProviderUnavailable) as caught:
        await model.complete(hello_request())

    assert caught.value.code == "provider_timeout"
    assert len(server.requests) == 2


async def test_a_stream_cut_short_is_unavailable(server: GeminiServer, make_model: ModelMaker) -> None:
    server.enqueue(wire.stream(["partial"], cut_before_finish=True))
    model, _ = make_model(attempts=1)

    seen: list[object] = []
    with pytest.raises(ProviderUnavailable):
        async for event in model.stream(hello_request()):
            seen.append(event)

    assert seen == [TextDelta("partial")]


async def test_streaming_rate_limit_is_retried_before_the_first_delta(
    server: GeminiServer, make_model: ModelMaker
) -> None:
    server.enqueue(wire.rate_limited("1"), wire.stream(["x"]))
    model, sleep = make_model()

    events = [e async for e in model.stream(hello_request())]

    assert isinstance(events[-1], StreamDone)
    assert sleep.delays == [1.0]
