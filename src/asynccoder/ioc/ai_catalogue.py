"""Wiring of the model catalogue, model selection, users' own keys and usage accounting."""

from __future__ import annotations

from dishka import Provider, Scope, provide, provide_all

from asynccoder.adapters.system.platform_access import ConfiguredPlatformKeys
from asynccoder.application.ai_catalogue.ports import PlatformKeys, TierEntitlements
from asynccoder.application.ai_catalogue_use_cases.api_keys import (
    CreateApiKey,
    DeleteApiKey,
    GetApiKey,
    ListApiKeys,
    ResolveCallCredentials,
    UpdateApiKey,
)
from asynccoder.application.ai_catalogue_use_cases.call_model import CallModelForUser
from asynccoder.application.ai_catalogue_use_cases.catalogue import (
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
from asynccoder.application.ai_catalogue_use_cases.model_trial import TryModel
from asynccoder.application.ai_catalogue_use_cases.selection import SelectModels, SelectModelsForUser
from asynccoder.application.ai_catalogue_use_cases.usage import (
    GetModelUsageStats,
    GetMyUsage,
    RecordModelUsage,
)
from asynccoder.application.billing.catalog import GetEntitlements
from asynccoder.application.billing.plan_entitlements import PlanTierEntitlements
from asynccoder.domain.ai import Provider as AiProvider
from asynccoder.ioc.settings import Settings


class AiCatalogueProvider(Provider):
    """Catalogue, selection, BYOK and usage use cases; the platform keys from settings."""

    @provide(scope=Scope.APP)
    def platform_keys(self, settings: Settings) -> PlatformKeys:
        return ConfiguredPlatformKeys(
            {
                AiProvider.ANTHROPIC: settings.claude_api_key,
                AiProvider.OPENAI: settings.openai_api_key,
                AiProvider.GEMINI: settings.gemini_api_key,
            }
        )

    @provide(scope=Scope.REQUEST)
    def entitlements(self, get_entitlements: GetEntitlements) -> TierEntitlements:
        return PlanTierEntitlements(get_entitlements)

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
