"""Language models: the SDK adapter factory (APP scope, shared HTTP pool) and the fallback use cases."""

from __future__ import annotations

from collections.abc import AsyncIterator

from dishka import Provider, Scope, provide

from asynccoder.adapters.ai.factory import SdkChatModelFactory
from asynccoder.adapters.ai.resilience import CallOptions, RetryPolicy
from asynccoder.adapters.ai.scripted import ScriptedChatModelFactory
from asynccoder.application.ai.complete_with_fallback import CompleteWithFallback, StreamWithFallback
from asynccoder.application.ai.ports import ChatModelFactory
from asynccoder.application.common.ports import Clock
from asynccoder.domain.ai import Provider as ModelProvider
from asynccoder.ioc.settings import Settings


def call_options(settings: Settings) -> CallOptions:
    return CallOptions(
        read_timeout=float(settings.ai_request_timeout_seconds),
        connect_timeout=float(settings.ai_connect_timeout_seconds),
        retry=RetryPolicy(max_attempts=settings.ai_max_attempts),
    )


class AiProvider(Provider):
    """Chat models on the providers' SDKs and the fallback chain executor."""

    @provide(scope=Scope.APP)
    async def chat_models(self, settings: Settings) -> AsyncIterator[ChatModelFactory]:
        factory = SdkChatModelFactory(
            base_urls={
                ModelProvider.ANTHROPIC: settings.anthropic_base_url,
                ModelProvider.OPENAI: settings.openai_base_url,
                ModelProvider.GEMINI: settings.gemini_base_url,
            },
            options=call_options(settings),
            production=settings.is_production,
        )
        yield factory
        await factory.aclose()

    @provide(scope=Scope.APP)
    def complete_with_fallback(self, models: ChatModelFactory, clock: Clock) -> CompleteWithFallback:
        return CompleteWithFallback(models, clock)

    @provide(scope=Scope.APP)
    def stream_with_fallback(self, models: ChatModelFactory, clock: Clock) -> StreamWithFallback:
        return StreamWithFallback(models, clock)


class ScriptedAiProvider(Provider):
    """Replaces the SDK factory with scripted models: for tests and the offline demo (no network, no keys)."""

    def __init__(self, factory: ScriptedChatModelFactory | None = None) -> None:
        super().__init__()
        self._factory = factory or ScriptedChatModelFactory()

    @provide(scope=Scope.APP)
    def chat_models(self) -> ChatModelFactory:
        return self._factory
