"""SdkChatModelFactory: which adapter, which endpoint, which key; the container closes its HTTP pool."""

from __future__ import annotations

import pytest

from asynccoder.adapters.ai.anthropic_chat import AnthropicChatModel
from asynccoder.adapters.ai.factory import SdkChatModelFactory
from asynccoder.adapters.ai.gemini_chat import GeminiChatModel
from asynccoder.adapters.ai.openai_chat import OpenAIChatModel
from asynccoder.adapters.ai.resilience import CallOptions
from asynccoder.adapters.ai.scripted import ScriptedChatModelFactory, text_turn
from asynccoder.adapters.memory.store import InMemoryStore
from asynccoder.adapters.memory.uow import InMemoryUnitOfWork
from asynccoder.application.ai.catalogue import UpdateProviderConfig, UpdateProviderConfigInput
from asynccoder.application.ai.complete_with_fallback import (
    Candidate,
    CompleteWithFallback,
    CompleteWithFallbackInput,
)
from asynccoder.application.ports.ai import ChatModelFactory
from asynccoder.domain.ai import (
    ChatRequest,
    Message,
    ModelRef,
    Provider,
    ProviderAuthError,
    ProviderOverloaded,
    ProviderUnavailable,
)
from asynccoder.domain.errors import InvalidInput
from asynccoder.domain.identity import Actor, Role
from asynccoder.domain.model_endpoints import ModelEndpointPolicy
from asynccoder.ioc.ai import ScriptedAiProvider
from asynccoder.ioc.core import (
    InMemoryPersistenceProvider,
    make_container,
)
from tests.support.app import make_settings
from tests.support.builders import T0, new_id
from tests.support.system import ManualClock

BASE_URLS = {
    Provider.ANTHROPIC: "https://api.anthropic.com",
    Provider.OPENAI: "https://api.openai.com/v1",
    Provider.GEMINI: "https://generativelanguage.googleapis.com",
}


@pytest.fixture
async def factory() -> SdkChatModelFactory:
    return SdkChatModelFactory(base_urls=BASE_URLS, options=CallOptions(), production=True)


@pytest.mark.parametrize(
    ("provider", "adapter"),
    [
        (Provider.ANTHROPIC, AnthropicChatModel),
        (Provider.OPENAI, OpenAIChatModel),
        (Provider.GEMINI, GeminiChatModel),
    ],
)
async def test_each_provider_gets_its_sdk_adapter(
    factory: SdkChatModelFactory, provider: Provider, adapter: type
) -> None:
    try:
        assert isinstance(factory.create(ModelRef(provider, "m"), api_key="k"), adapter)
    finally:
        await factory.aclose()


async def test_an_openai_compatible_model_needs_its_own_base_url(factory: SdkChatModelFactory) -> None:
    try:
        with pytest.raises(ProviderUnavailable) as caught:
            factory.create(ModelRef(Provider.OPENAI_COMPATIBLE, "llama"), api_key="k")
        assert caught.value.code == "base_url_required"
        model = factory.create(
            ModelRef(Provider.OPENAI_COMPATIBLE, "llama", base_url="https://llm.example.com/v1/"), api_key="k"
        )
        assert "https://llm.example.com/v1" in repr(model)
    finally:
        await factory.aclose()


@pytest.mark.parametrize(
    "url",
    ["http://llm.example.com/v1", "https://10.0.0.5/v1", "https://u:p@llm.example.com", "http://127.0.0.1:1"],
)
async def test_in_production_unsafe_custom_endpoints_are_refused(
    factory: SdkChatModelFactory, url: str
) -> None:
    try:
        with pytest.raises(ProviderUnavailable) as caught:
            factory.create(ModelRef(Provider.OPENAI_COMPATIBLE, "llama", base_url=url), api_key="k")
        assert caught.value.code == "invalid_base_url"
    finally:
        await factory.aclose()


async def test_a_local_http_endpoint_is_allowed_outside_production() -> None:
    factory = SdkChatModelFactory(base_urls=BASE_URLS, options=CallOptions(), production=False)
    try:
        ref = ModelRef(Provider.OPENAI_COMPATIBLE, "llama", base_url="http://127.0.0.1:11434/v1")
        assert isinstance(factory.create(ref, api_key="k"), OpenAIChatModel)
    finally:
        await factory.aclose()


async def test_an_empty_key_is_refused_so_no_sdk_reads_a_key_from_the_environment(
    factory: SdkChatModelFactory,
) -> None:
    try:
        with pytest.raises(ProviderAuthError) as caught:
            factory.create(ModelRef(Provider.OPENAI, "gpt-4.1"), api_key="")
        assert caught.value.code == "missing_api_key"
    finally:
        await factory.aclose()


async def test_the_container_provides_one_factory_and_closes_its_http_pool() -> None:
    container = make_container(make_settings(), InMemoryPersistenceProvider())
    factory = await container.get(ChatModelFactory)
    assert factory is await container.get(ChatModelFactory)
    assert isinstance(factory, SdkChatModelFactory)
    pool = factory._http
    assert not pool.is_closed

    await container.close()

    assert pool.is_closed


async def test_the_scripted_provider_runs_the_fallback_chain_offline() -> None:
    scripted = ScriptedChatModelFactory()
    scripted.model("claude-haiku-4-5").add(ProviderOverloaded("busy"))
    scripted.model("gpt-4.1-mini").add(text_turn("offline answer"))
    container = make_container(make_settings(), InMemoryPersistenceProvider(), ScriptedAiProvider(scripted))
    try:
        use_case = await container.get(CompleteWithFallback)
        result = await use_case(
            CompleteWithFallbackInput(
                (
                    Candidate(ModelRef(Provider.ANTHROPIC, "claude-haiku-4-5"), "demo", "platform"),
                    Candidate(ModelRef(Provider.OPENAI, "gpt-4.1-mini"), "demo", "platform"),
                ),
                ChatRequest(model="", messages=(Message.user("hi"),)),
            )
        )
    finally:
        await container.close()

    assert result.response.text == "offline answer"
    assert result.response.model == "gpt-4.1-mini"


# The cases where the admin write path and the call path used to disagree (issue 10), plus a public control.
ENDPOINT_CASES = [
    # url, accepted in production, accepted in development
    ("https://metadata.google.internal/v1", False, True),
    ("https://2130706433/", False, True),
    ("https://intranet/v1", False, True),
    ("http://127.0.0.1:11434/v1", False, True),
    ("https://169.254.169.254/latest", False, True),
    ("http://llm.example.com/v1", False, False),
    ("https://user:pw@llm.example.com/v1", False, False),
    ("https://llm.example.com/v1", True, True),
]


async def _stored(url: str, *, production: bool) -> str:
    """Whether the admin write path stores ``url``: ``accepted``, ``refused`` (on ``base_url``) or why not."""
    store = InMemoryStore()
    update = UpdateProviderConfig(
        InMemoryUnitOfWork(store), ManualClock(T0), ModelEndpointPolicy(production=production)
    )
    try:
        await update(
            UpdateProviderConfigInput(
                Actor(new_id(), Role.ADMIN), Provider.OPENAI_COMPATIBLE, "Custom", url, True
            )
        )
    except InvalidInput as refused:
        fields = [problem.field for problem in refused.problems]
        return "refused" if fields == ["base_url"] else f"refused for {fields}"
    return "accepted"


def _callable(url: str, *, production: bool) -> str:
    """Whether the factory builds a model for ``url``: ``accepted``, ``refused`` or why not."""
    factory = SdkChatModelFactory(base_urls=BASE_URLS, options=CallOptions(), production=production)
    try:
        factory.create(ModelRef(Provider.OPENAI_COMPATIBLE, "m", base_url=url), api_key="k")
    except ProviderUnavailable as refused:
        return "refused" if refused.code == "invalid_base_url" else f"refused with {refused.code}"
    return "accepted"


def _verdict(accepted: bool) -> str:
    return "accepted" if accepted else "refused"


@pytest.mark.parametrize(("url", "in_production", "in_development"), ENDPOINT_CASES)
async def test_an_endpoint_is_stored_exactly_when_it_can_be_called(
    url: str, in_production: bool, in_development: bool
) -> None:
    assert await _stored(url, production=True) == _callable(url, production=True) == _verdict(in_production)
    assert (
        await _stored(url, production=False) == _callable(url, production=False) == _verdict(in_development)
    )
