"""A provider key never shows up in an error, a log line or a repr, whatever way the call fails."""

from __future__ import annotations

import logging
import socket
import traceback
from collections.abc import Callable

import pytest

from asynccoder.adapters.ai.factory import SdkChatModelFactory
from asynccoder.adapters.ai.resilience import CallOptions, RetryPolicy
from asynccoder.adapters.system.clock import SystemClock
from asynccoder.application.ai.complete_with_fallback import (
    Candidate,
    CompleteWithFallback,
    CompleteWithFallbackInput,
    FallbackExhausted,
)
from asynccoder.domain.ai import ModelRef, Provider, ProviderError
from tests.support import anthropic_server, gemini_server, openai_server
from tests.support.ai import RecordingSleep, hello_request
from tests.support.anthropic_server import AnthropicServer
from tests.support.fake_http import FakeHttpServer, Reply
from tests.support.gemini_server import GeminiServer
from tests.support.openai_server import OpenAIServer

CANARY = "sk-canary-7f3e9a1c2b4d6e8f0a1b2c3d4e5f6a7b"
LOGGERS = ["", "asynccoder", "anthropic", "openai", "google_genai", "google", "httpx", "httpx2", "httpcore"]

Kit = tuple[Callable[[], FakeHttpServer], Provider, str, object]
KITS: dict[str, Kit] = {
    "anthropic": (
        lambda: AnthropicServer(api_key=CANARY),
        Provider.ANTHROPIC,
        "claude-sonnet-4-6",
        anthropic_server,
    ),
    "openai": (lambda: OpenAIServer(api_key=CANARY), Provider.OPENAI, "gpt-4.1", openai_server),
    "gemini": (lambda: GeminiServer(api_key=CANARY), Provider.GEMINI, "gemini-2.5-flash", gemini_server),
}
FAILURES: dict[str, Callable[[object], Reply | None]] = {
    "unauthorized": lambda wire: wire.unauthorized(),  # type: ignore[attr-defined]
    "rate_limited": lambda wire: wire.rate_limited("0"),  # type: ignore[attr-defined]
    "overloaded": lambda wire: wire.overloaded(),  # type: ignore[attr-defined]
    "context_too_long": lambda wire: wire.context_too_long(),  # type: ignore[attr-defined]
    "malformed": lambda wire: Reply.raw(b"{" + CANARY.encode() + b"!!"),
    "echoing_body": lambda wire: Reply.json(
        {"error": {"message": f"bad key {CANARY}", "type": "x"}}, status=400
    ),
    "timeout": lambda wire: Reply.hanging(),
}


@pytest.fixture(autouse=True)
def debug_logs(caplog: pytest.LogCaptureFixture) -> None:
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)


def assert_no_canary(error: BaseException, caplog: pytest.LogCaptureFixture, *extra: object) -> None:
    texts = [
        str(error),
        repr(error),
        repr(error.args),
        "".join(traceback.format_exception(error)),
        caplog.text,
        *(record.getMessage() + repr(record.__dict__) for record in caplog.records),
        *(repr(item) for item in extra),
    ]
    for text in texts:
        assert CANARY not in text
        assert CANARY[-12:] not in text


@pytest.mark.parametrize("failure", list(FAILURES))
@pytest.mark.parametrize("provider", list(KITS))
async def test_a_failing_call_leaks_the_key_nowhere(
    provider: str, failure: str, caplog: pytest.LogCaptureFixture
) -> None:
    make_server, kind, model_name, wire = KITS[provider]
    with make_server() as server:
        reply = FAILURES[failure](wire)
        if reply is not None:
            server.enqueue(reply, reply)
        options = CallOptions(
            read_timeout=0.3, connect_timeout=1, retry=RetryPolicy(2, sleep=RecordingSleep())
        )
        base = server.api_base if isinstance(server, OpenAIServer) else server.base_url
        factory = SdkChatModelFactory(base_urls={kind: base}, options=options, production=False)
        try:
            model = factory.create(ModelRef(kind, model_name), api_key=CANARY)
            with pytest.raises(ProviderError) as caught:
                await model.complete(hello_request(model_name))
            assert_no_canary(caught.value, caplog, model, factory)
            with pytest.raises(ProviderError) as caught_stream:
                server.enqueue(*([reply, reply] if reply is not None else []))
                _ = [e async for e in model.stream(hello_request(model_name))]
            assert_no_canary(caught_stream.value, caplog)
        finally:
            await factory.aclose()
    assert any(
        r.header("x-api-key") == CANARY
        or r.header("x-goog-api-key") == CANARY
        or r.header("authorization") == f"Bearer {CANARY}"
        for r in server.requests
    )


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("provider", list(KITS))
async def test_an_unreachable_provider_leaks_the_key_nowhere(
    provider: str, caplog: pytest.LogCaptureFixture
) -> None:
    _, kind, model_name, _ = KITS[provider]
    options = CallOptions(read_timeout=1, connect_timeout=1, retry=RetryPolicy(2, sleep=RecordingSleep()))
    factory = SdkChatModelFactory(
        base_urls={kind: f"http://127.0.0.1:{unused_port()}"}, options=options, production=False
    )
    try:
        candidate = Candidate(ModelRef(kind, model_name), CANARY, "byok")
        with pytest.raises(FallbackExhausted) as caught:
            await CompleteWithFallback(factory, SystemClock())(
                CompleteWithFallbackInput((candidate,), hello_request())
            )
    finally:
        await factory.aclose()

    assert caught.value.code == "provider_unavailable"
    assert_no_canary(caught.value, caplog, caught.value.attempts, candidate)
