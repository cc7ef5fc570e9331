"""GeminiChatModel through the real ``google-genai`` SDK against a local Gemini API server."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx2
import pytest

from asynccoder.adapters.ai.gemini_chat import GeminiChatModel
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
from tests.support import gemini_server as wire
from tests.support.ai import READ_FILE, RecordingSleep, fast_options, hello_request
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
