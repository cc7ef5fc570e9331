"""The ``ChatModel`` contract: every provider adapter, through its real SDK against its local wire-protocol
server, retries, times out and translates failures the same way. What is vendor-specific (request shapes,
usage mapping, tool-call formats, a vendor's own error events) stays in each adapter's test file."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import httpx2
import pytest

from asynccoder.adapters.ai.anthropic_chat import AnthropicChatModel
from asynccoder.adapters.ai.gemini_chat import GeminiChatModel
from asynccoder.adapters.ai.openai_chat import OpenAIChatModel
from asynccoder.application.ports.ai import ChatModel
from asynccoder.domain.ai import (
    ContextTooLong,
    ProviderAuthError,
    ProviderOverloaded,
    ProviderRateLimited,
    ProviderUnavailable,
    StreamDone,
    TextDelta,
)
from tests.support import anthropic_server, gemini_server, openai_server
from tests.support.ai import RecordingSleep, fast_options, hello_request
from tests.support.fake_http import FakeHttpServer, Reply


@dataclass(frozen=True)
class Provider:
    """How to talk to one provider's local server: its adapter, keys and the replies of its wire format."""

    adapter: Callable[..., ChatModel]
    server: Callable[[str], FakeHttpServer]
    base_url: Callable[[Any], str]
    wire: ModuleType
    answer: Callable[[str], Reply]
    cut_stream: Callable[[Sequence[str]], Reply]
    overloaded: Sequence[str]  # names of the wire module's builders that mean "overloaded, try again"
    key: str
    wrong_key: str


PROVIDERS = {
    "anthropic": Provider(
        adapter=AnthropicChatModel,
        server=lambda key: anthropic_server.AnthropicServer(api_key=key),
        base_url=lambda s: s.base_url,
        wire=anthropic_server,
        answer=anthropic_server.message,
        cut_stream=lambda chunks: anthropic_server.stream(chunks, cut_after_start=True),
        overloaded=("overloaded", "unavailable"),
        key="sk-ant-test-key",
        wrong_key="sk-ant-wrong",
    ),
    "openai": Provider(
        adapter=OpenAIChatModel,
        server=lambda key: openai_server.OpenAIServer(api_key=key),
        base_url=lambda s: s.api_base,
        wire=openai_server,
        answer=openai_server.completion,
        cut_stream=lambda chunks: openai_server.stream(chunks, cut_before_finish=True),
        overloaded=("overloaded", "unavailable"),
        key="sk-proj-test-key",
        wrong_key="sk-proj-wrong",
    ),
    "gemini": Provider(
        adapter=GeminiChatModel,
        server=lambda key: gemini_server.GeminiServer(api_key=key),
        base_url=lambda s: s.base_url,
        wire=gemini_server,
        answer=gemini_server.content,
        cut_stream=lambda chunks: gemini_server.stream(chunks, cut_before_finish=True),
        overloaded=("overloaded",),
        key="gemini-test-key",
        wrong_key="gemini-wrong",
    ),
}


@pytest.fixture(params=sorted(PROVIDERS))
def provider(request: pytest.FixtureRequest) -> Provider:
    return PROVIDERS[request.param]


@pytest.fixture
def server(provider: Provider) -> Iterator[FakeHttpServer]:
    with provider.server(provider.key) as srv:
        yield srv


ModelMaker = Callable[..., tuple[ChatModel, RecordingSleep]]


@pytest.fixture
def make_model(provider: Provider, server: FakeHttpServer, http_client: httpx2.AsyncClient) -> ModelMaker:
    def make(
        *, attempts: int = 3, read_timeout: float = 5.0, key: str | None = None
    ) -> tuple[ChatModel, RecordingSleep]:
        options, sleep = fast_options(attempts, read_timeout=read_timeout)
        model = provider.adapter(
            api_key=key or provider.key,
            base_url=provider.base_url(server),
            options=options,
            http_client=http_client,
        )
        return model, sleep

    return make


async def test_a_429_is_retried_after_the_servers_retry_after(
    provider: Provider, server: FakeHttpServer, make_model: ModelMaker
) -> None:
    server.enqueue(provider.wire.rate_limited("7"), provider.answer("ok"))
    model, sleep = make_model()

    response = await model.complete(hello_request())

    assert response.text == "ok"
    assert sleep.delays == [7.0]
    assert len(server.requests) == 2


async def test_rate_limits_until_attempts_run_out_raise_rate_limited_with_retry_after(
    provider: Provider, server: FakeHttpServer, make_model: ModelMaker
) -> None:
    wire = provider.wire
    server.enqueue(wire.rate_limited("2"), wire.rate_limited("2"), wire.rate_limited("3"))
    model, sleep = make_model(attempts=3)

    with pytest.raises(ProviderRateLimited) as caught:
        await model.complete(hello_request())

    assert caught.value.retry_after == 3.0
    assert len(server.requests) == 3
    assert len(sleep.delays) == 2


async def test_overloaded_answers_are_retried_then_reported(
    provider: Provider, server: FakeHttpServer, make_model: ModelMaker
) -> None:
    for builder in provider.overloaded:
        server.requests.clear()
        reply = getattr(provider.wire, builder)()
        server.enqueue(reply, reply)
        model, sleep = make_model(attempts=2)

        with pytest.raises(ProviderOverloaded):
            await model.complete(hello_request())

        assert len(server.requests) == 2, builder
        assert len(sleep.delays) == 1, builder


async def test_an_overloaded_attempt_followed_by_success_succeeds(
    provider: Provider, server: FakeHttpServer, make_model: ModelMaker
) -> None:
    server.enqueue(provider.wire.overloaded(), provider.answer("after all"))
    model, _ = make_model()

    assert (await model.complete(hello_request())).text == "after all"


async def test_a_wrong_key_is_an_auth_error_and_is_not_retried(
    provider: Provider, server: FakeHttpServer, make_model: ModelMaker
) -> None:
    model, sleep = make_model(key=provider.wrong_key)

    with pytest.raises(ProviderAuthError):
        await model.complete(hello_request())

    assert len(server.requests) == 1
    assert sleep.delays == []


async def test_a_context_length_400_is_context_too_long(
    provider: Provider, server: FakeHttpServer, make_model: ModelMaker
) -> None:
    server.enqueue(provider.wire.context_too_long())
    model, sleep = make_model()

    with pytest.raises(ContextTooLong):
        await model.complete(hello_request())

    assert sleep.delays == []  # a request that is too long is not retried


async def test_a_malformed_body_is_unavailable_after_retries(
    server: FakeHttpServer, make_model: ModelMaker
) -> None:
    server.enqueue(Reply.raw(b"{not json"), Reply.raw(b'{"type": "message"}'))
    model, _ = make_model(attempts=2)

    with pytest.raises(ProviderUnavailable) as caught:
        await model.complete(hello_request())

    assert caught.value.code == "provider_malformed_response"
    assert len(server.requests) == 2


async def test_a_hanging_server_times_out_as_unavailable(
    server: FakeHttpServer, make_model: ModelMaker
) -> None:
    server.enqueue(Reply.hanging(), Reply.hanging())
    model, _ = make_model(attempts=2, read_timeout=0.3)

    with pytest.raises(ProviderUnavailable) as caught:
        await model.complete(hello_request())

    assert caught.value.code == "provider_timeout"
    assert len(server.requests) == 2


async def test_a_stream_cut_short_is_unavailable(
    provider: Provider, server: FakeHttpServer, make_model: ModelMaker
) -> None:
    server.enqueue(provider.cut_stream(["partial"]))
    model, _ = make_model(attempts=1)

    seen: list[object] = []
    with pytest.raises(ProviderUnavailable):
        async for event in model.stream(hello_request()):
            seen.append(event)

    assert not any(isinstance(e, StreamDone) for e in seen)
    assert all(isinstance(e, TextDelta) for e in seen)


async def test_streaming_rate_limit_is_retried_before_the_first_delta(
    provider: Provider, server: FakeHttpServer, make_model: ModelMaker
) -> None:
    server.enqueue(provider.wire.rate_limited("1"), provider.wire.stream(["x"]))
    model, sleep = make_model()

    events = [e async for e in model.stream(hello_request())]

    assert [e.text for e in events if isinstance(e, TextDelta)] == ["x"]
    assert isinstance(events[-1], StreamDone)
    assert sleep.delays == [1.0]
