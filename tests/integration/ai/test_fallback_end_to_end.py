"""The fallback chain through the container, the real SDKs and local provider servers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from asynccoder.application.ai.complete_with_fallback import (
    Candidate,
    CompleteWithFallback,
    CompleteWithFallbackInput,
    FallbackExhausted,
    FallbackStreamDone,
    StreamWithFallback,
)
from asynccoder.application.ports.ai import ChatModelFactory
from asynccoder.domain.ai import ContextTooLong, ModelRef, Provider, TextDelta, Usage
from asynccoder.ioc.core import (
    InMemoryPersistenceProvider,
    make_container,
)
from asynccoder.ioc.settings import Settings
from tests.support import anthropic_server, gemini_server, openai_server
from tests.support.ai import hello_request
from tests.support.anthropic_server import AnthropicServer
from tests.support.app import make_settings
from tests.support.gemini_server import GeminiServer
from tests.support.openai_server import OpenAIServer

CLAUDE = Candidate(ModelRef(Provider.ANTHROPIC, "claude-sonnet-4-6"), "sk-ant-user", "byok")
GPT = Candidate(ModelRef(Provider.OPENAI, "gpt-4.1"), "sk-platform-openai", "platform")
GEMINI = Candidate(ModelRef(Provider.GEMINI, "gemini-2.5-flash"), "gm-platform", "platform")


@pytest.fixture
def servers() -> Iterator[tuple[AnthropicServer, OpenAIServer, GeminiServer]]:
    with (
        AnthropicServer(api_key=CLAUDE.api_key) as anthropic,
        OpenAIServer(api_key=GPT.api_key) as openai,
        GeminiServer(api_key=GEMINI.api_key) as gemini,
    ):
        yield anthropic, openai, gemini


def settings_for(
    anthropic: AnthropicServer, openai: OpenAIServer, gemini: GeminiServer, attempts: int = 2
) -> Settings:
    return make_settings(
        anthropic_base_url=anthropic.base_url,
        openai_base_url=openai.api_base,
        gemini_base_url=gemini.base_url,
        ai_max_attempts=attempts,
        ai_request_timeout_seconds=5,
    )


async def test_anthropic_overloaded_falls_back_to_openai_and_usage_is_the_openai_models(
    servers: tuple[AnthropicServer, OpenAIServer, GeminiServer],
) -> None:
    anthropic, openai, gemini = servers
    anthropic.enqueue(anthropic_server.overloaded(), anthropic_server.overloaded())
    openai.enqueue(
        openai_server.completion(
            "from gpt", model="gpt-4.1-2025-04-14", usage={"prompt_tokens": 40, "completion_tokens": 6}
        )
    )
    container = make_container(settings_for(anthropic, openai, gemini), InMemoryPersistenceProvider())
    try:
        use_case = await container.get(CompleteWithFallback)
        result = await use_case(CompleteWithFallbackInput((CLAUDE, GPT, GEMINI), hello_request()))
    finally:
        await container.close()

    assert result.response.text == "from gpt"
    assert result.response.model == "gpt-4.1-2025-04-14"
    assert result.response.usage == Usage(40, 6)
    assert result.candidate is GPT
    assert [(a.ref.provider, a.label, a.outcome) for a in result.attempts] == [
        (Provider.ANTHROPIC, "byok", "provider_overloaded"),
        (Provider.OPENAI, "platform", "ok"),
    ]
    assert len(anthropic.requests) == 2  # the adapter retried once before the chain moved on
    assert openai.requests[0].body["model"] == "gpt-4.1"
    assert gemini.requests == []


async def test_streaming_falls_back_from_a_rate_limited_openai_to_gemini(
    servers: tuple[AnthropicServer, OpenAIServer, GeminiServer],
) -> None:
    anthropic, openai, gemini = servers
    openai.enqueue(openai_server.rate_limited("0"))
    gemini.enqueue(
        gemini_server.stream(["Hi ", "there"], usage={"promptTokenCount": 8, "candidatesTokenCount": 2})
    )
    container = make_container(
        settings_for(anthropic, openai, gemini, attempts=1), InMemoryPersistenceProvider()
    )
    try:
        use_case = await container.get(StreamWithFallback)
        events = [e async for e in use_case(CompleteWithFallbackInput((GPT, GEMINI), hello_request()))]
    finally:
        await container.close()

    assert [e.text for e in events if isinstance(e, TextDelta)] == ["Hi ", "there"]
    done = events[-1]
    assert isinstance(done, FallbackStreamDone)
    assert done.result.response.model == "gemini-2.5-flash"
    assert done.result.response.usage == Usage(8, 2)
    assert [a.outcome for a in done.result.attempts] == ["provider_rate_limited", "ok"]


async def test_a_context_too_long_answer_stops_the_chain(
    servers: tuple[AnthropicServer, OpenAIServer, GeminiServer],
) -> None:
    anthropic, openai, gemini = servers
    anthropic.enqueue(anthropic_server.context_too_long())
    container = make_container(settings_for(anthropic, openai, gemini), InMemoryPersistenceProvider())
    try:
        use_case = await container.get(CompleteWithFallback)
        with pytest.raises(FallbackExhausted) as caught:
            await use_case(CompleteWithFallbackInput((CLAUDE, GPT), hello_request()))
    finally:
        await container.close()

    assert isinstance(caught.value.last, ContextTooLong)
    assert openai.requests == []


async def test_an_openai_compatible_model_uses_its_own_base_url(
    servers: tuple[AnthropicServer, OpenAIServer, GeminiServer],
) -> None:
    anthropic, openai, gemini = servers
    with OpenAIServer(api_key="local-key", path_prefix="/custom/v1") as local:
        local.enqueue(openai_server.completion("local answer", model="qwen3-coder"))
        container = make_container(settings_for(anthropic, openai, gemini), InMemoryPersistenceProvider())
        try:
            models = await container.get(ChatModelFactory)
            ref = ModelRef(Provider.OPENAI_COMPATIBLE, "qwen3-coder", base_url=local.api_base)
            response = await models.create(ref, api_key="local-key").complete(hello_request("qwen3-coder"))
        finally:
            await container.close()

    assert response.text == "local answer"
    assert local.requests[0].body["max_tokens"] == 256
    assert openai.requests == []
