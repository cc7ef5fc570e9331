"""Language models: the SDK adapter factory (APP scope, shared HTTP pool) and the fallback use cases."""

from __future__ import annotations

from collections.abc import AsyncIterator

from dishka import Provider, Scope, provide, provide_all

from asynccoder.adapters.ai.demo import DemoChatModelFactory
from asynccoder.adapters.ai.factory import SdkChatModelFactory
from asynccoder.adapters.ai.resilience import CallOptions, RetryPolicy
from asynccoder.adapters.ai.scripted import ScriptedChatModelFactory
from asynccoder.adapters.system.platform_access import ConfiguredPlatformKeys
from asynccoder.application.ai.api_keys import (
    CreateApiKey,
    DeleteApiKey,
    GetApiKey,
    ListApiKeys,
    ResolveCallCredentials,
    UpdateApiKey,
)
from asynccoder.application.ai.call_model import CallModelForUser
from asynccoder.application.ai.catalogue import (
    CreateModel,
    DeleteModel,
    GetModel,
    ListModelPrices,
    ListModels,
    ListProviderConfigs,
    SetModelPrice,
    UpdateModel,
    UpdateProviderConfig,
)
from asynccoder.application.ai.complete_with_fallback import CompleteWithFallback, StreamWithFallback
from asynccoder.application.ai.model_trial import TryModel
from asynccoder.application.ai.selection import (
    SelectModels,
    SelectModelsForUser,
)
from asynccoder.application.ai.usage import (
    GetModelUsageStats,
    GetMyUsage,
    RecordModelUsage,
)
from asynccoder.application.billing.catalogue import GetEntitlements
from asynccoder.application.billing.credits import ReleaseHold, ReserveCredits, SettleHold
from asynccoder.application.billing.plan_entitlements import CreditTrialCharges, PlanTierEntitlements
from asynccoder.application.ports.ai import (
    ChatModelFactory,
    PlatformKeys,
    TierEntitlements,
    TrialCharges,
)
from asynccoder.application.ports.system import Clock
from asynccoder.domain.ai import Provider as ModelProvider
from asynccoder.domain.model_endpoints import ModelEndpointPolicy
from asynccoder.ioc.settings import Settings


def call_options(settings: Settings) -> CallOptions:
    return CallOptions(
        read_timeout=float(settings.ai_request_timeout_seconds),
        connect_timeout=float(settings.ai_connect_timeout_seconds),
        retry=RetryPolicy(max_attempts=settings.ai_max_attempts),
    )


def traced_models(settings: Settings, factory: ChatModelFactory) -> ChatModelFactory:
    """Model calls as spans when tracing is on (``OTLP_ENDPOINT``)."""
    if settings.otlp_endpoint is None:
        return factory
    from asynccoder.adapters.observability.tracing import TracedChatModelFactory  # only with tracing on

    return TracedChatModelFactory(factory)


class AiProvider(Provider):
    """Chat models on the providers' SDKs and the fallback chain executor."""

    @provide(scope=Scope.APP)
    async def chat_models(self, settings: Settings) -> AsyncIterator[ChatModelFactory]:
        if settings.demo_model:
            yield traced_models(settings, DemoChatModelFactory())
            return
        factory = SdkChatModelFactory(
            base_urls={
                ModelProvider.ANTHROPIC: settings.anthropic_base_url,
                ModelProvider.OPENAI: settings.openai_base_url,
                ModelProvider.GEMINI: settings.gemini_base_url,
            },
            options=call_options(settings),
            production=settings.is_production,
        )
        yield traced_models(settings, factory)
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


class AiCatalogueProvider(Provider):
    """Catalogue, selection, BYOK and usage use cases; the platform keys from settings."""

    @provide(scope=Scope.APP)
    def platform_keys(self, settings: Settings) -> PlatformKeys:
        if settings.demo_model:  # every provider is reachable: the demo model answers, no key is sent
            return ConfiguredPlatformKeys(dict.fromkeys(ModelProvider, "demo"))
        return ConfiguredPlatformKeys(
            {
                ModelProvider.ANTHROPIC: settings.claude_api_key,
                ModelProvider.OPENAI: settings.openai_api_key,
                ModelProvider.GEMINI: settings.gemini_api_key,
            }
        )

    @provide(scope=Scope.APP)
    def endpoint_policy(self, settings: Settings) -> ModelEndpointPolicy:
        return ModelEndpointPolicy(production=settings.is_production)

    @provide(scope=Scope.REQUEST)
    def entitlements(self, get_entitlements: GetEntitlements) -> TierEntitlements:
        return PlanTierEntitlements(get_entitlements)

    @provide(scope=Scope.REQUEST)
    def trial_charges(
        self, reserve: ReserveCredits, settle: SettleHold, release: ReleaseHold
    ) -> TrialCharges:
        return CreditTrialCharges(reserve, settle, release)

    use_cases = provide_all(
        ListModels,
        GetModel,
        CreateModel,
        UpdateModel,
        DeleteModel,
        SetModelPrice,
        ListModelPrices,
        ListProviderConfigs,
        UpdateProviderConfig,
        TryModel,
        SelectModels,
        SelectModelsForUser,
        ListApiKeys,
        GetApiKey,
        CreateApiKey,
        UpdateApiKey,
        DeleteApiKey,
        ResolveCallCredentials,
        RecordModelUsage,
        CallModelForUser,
        GetModelUsageStats,
        GetMyUsage,
        scope=Scope.REQUEST,
    )
