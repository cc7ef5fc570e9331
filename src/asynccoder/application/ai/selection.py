"""Choosing the model chain for a call: explicit or per-mode default, then fallbacks across providers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from asynccoder.application.ports.ai import (
    ModelFilter,
    PlatformKeys,
)
from asynccoder.application.ports.system import Clock
from asynccoder.application.ports.uow import UnitOfWork
from asynccoder.domain.ai import ModelRef, ModelTier, Provider
from asynccoder.domain.ai_catalogue import (
    PROVIDER_ORDER,
    TIER_RANK,
    ApiKeyStatus,
    CatalogueModel,
    KeySource,
    TaskMode,
)
from asynccoder.domain.errors import NotFound, Refused
from asynccoder.domain.model_lifecycle import is_deprecated, is_retired, retired_error


@dataclass(frozen=True, slots=True)
class ModelCandidate:
    """One entry of a fallback chain. The key itself is fetched at call time with ``ResolveCallCredentials``
    (``user_id`` + ``ref.provider``); ``key_source`` is what was available when the chain was built."""

    ref: ModelRef
    key_source: KeySource
    model_id: UUID


@dataclass(frozen=True, slots=True)
class SelectModelsInput:
    mode: TaskMode
    allowed_tiers: frozenset[ModelTier]
    byok_providers: frozenset[Provider]
    platform_providers: frozenset[Provider]
    model_id: UUID | None = None


@dataclass(frozen=True, slots=True)
class SelectedModels:
    candidates: tuple[ModelCandidate, ...]

    @property
    def primary(self) -> ModelCandidate:
        return self.candidates[0]


class SelectModels:
    """Builds the ordered candidate chain for a task's model calls.

    Rules:
    - only enabled models of enabled providers, in a tier the plan allows, of a provider the user can reach
      (own key preferred, else a platform key), and not retired at the clock's now, are candidates;
    - an explicit model comes first; it must exist (``NotFound`` ``model_not_found``), not be retired
      (``ModelRetired`` ``model_retired``, with the suggested replacement), be enabled and in an allowed tier
      (``Refused`` ``model_not_allowed``) and reachable (``Refused`` ``no_provider_key``); a deprecated
      explicit model is honoured;
    - otherwise the primary is the highest-tier default for the mode (``default_modes``) within the allowed
      tiers; if the mode has no usable default, the highest-tier usable model; models that are not deprecated
      always come before deprecated ones (a deprecated model only when nothing else fits);
    - then at most one fallback per other provider, of the primary's tier or lower: not deprecated first, then
      per-mode defaults, then higher tier, then name; providers ordered by whether their fallback is
      deprecated, its tier, then anthropic, openai, gemini, openai_compatible;
    - nothing usable -> ``Refused`` ``no_model_available``.
    """

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(self, data: SelectModelsInput) -> SelectedModels:
        now = self._clock.now()
        async with self._uow as uow:
            configs = {c.provider: c for c in await uow.ai_catalogue.list_provider_configs()}
            models = await uow.ai_catalogue.list_models(ModelFilter(enabled_only=True))
            explicit = await uow.ai_catalogue.get_model(data.model_id) if data.model_id else None
            if explicit is not None and is_retired(explicit, now):
                # The replacement chain may pass through disabled models: read them all.
                catalogue = await uow.ai_catalogue.list_models(ModelFilter(enabled_only=False))
                raise retired_error(explicit, {m.id: m for m in catalogue}, now)
        enabled_providers = {p for p, c in configs.items() if c.enabled}

        def source(provider: Provider) -> KeySource | None:
            if provider in data.byok_providers:
                return KeySource.BYOK
            if provider in data.platform_providers:
                return KeySource.PLATFORM
            return None

        def candidate(model: CatalogueModel) -> ModelCandidate:
            key_source = source(model.provider)
            assert key_source is not None
            config = configs.get(model.provider)
            return ModelCandidate(model.ref(config.base_url if config else None), key_source, model.id)

        usable = [
            m
            for m in models
            if m.provider in enabled_providers
            and m.tier in data.allowed_tiers
            and source(m.provider)
            and not is_retired(m, now)
        ]
        if data.model_id is not None:
            if explicit is None:
                raise NotFound("No such model.", code="model_not_found")
            if (
                not explicit.enabled
                or explicit.tier not in data.allowed_tiers
                or explicit.provider not in enabled_providers
            ):
                raise Refused("This model is not available on your plan.", code="model_not_allowed")
            if source(explicit.provider) is None:
                raise Refused("No key is available for this model's provider.", code="no_provider_key")
            primary = explicit
        else:
            current = [m for m in usable if not is_deprecated(m, now)] or usable
            defaults = [m for m in current if data.mode in m.default_modes] or current
            if not defaults:
                raise Refused("No model is available for this task.", code="no_model_available")
            primary = min(defaults, key=lambda m: _rank(m, data.mode))
        chain = [candidate(primary)]
        best_per_provider: dict[Provider, CatalogueModel] = {}
        for model in usable:
            if model.provider == primary.provider or TIER_RANK[model.tier] > TIER_RANK[primary.tier]:
                continue
            best = best_per_provider.get(model.provider)
            if best is None or _fallback_rank(model, data.mode, now) < _fallback_rank(best, data.mode, now):
                best_per_provider[model.provider] = model
        fallbacks = sorted(
            best_per_provider.values(),
            key=lambda m: (is_deprecated(m, now), -TIER_RANK[m.tier], PROVIDER_ORDER[m.provider]),
        )
        chain.extend(candidate(m) for m in fallbacks)
        return SelectedModels(tuple(chain))


def _rank(model: CatalogueModel, mode: TaskMode) -> tuple[int, int, str]:
    return (-TIER_RANK[model.tier], PROVIDER_ORDER[model.provider], model.model_name)


def _fallback_rank(model: CatalogueModel, mode: TaskMode, now: datetime) -> tuple[bool, int, int, str]:
    return (
        is_deprecated(model, now),
        0 if mode in model.default_modes else 1,
        -TIER_RANK[model.tier],
        model.model_name,
    )


@dataclass(frozen=True, slots=True)
class SelectModelsForUserInput:
    user_id: UUID
    mode: TaskMode
    allowed_tiers: frozenset[ModelTier]
    model_id: UUID | None = None


class SelectModelsForUser:
    """``SelectModels`` with the user's reachable providers filled in: providers where the user has an active
    own key, and providers with a configured platform key.

    Rules: as ``SelectModels``. An own key over its monthly cap still counts as ``byok`` here;
    ``ResolveCallCredentials`` decides at call time and then falls back to the platform key.
    """

    def __init__(self, uow: UnitOfWork, select: SelectModels, platform_keys: PlatformKeys) -> None:
        self._uow, self._select, self._platform = uow, select, platform_keys

    async def __call__(self, data: SelectModelsForUserInput) -> SelectedModels:
        async with self._uow as uow:
            keys = await uow.api_keys.list_for_user(data.user_id)
        byok = frozenset(k.provider for k in keys if k.status is ApiKeyStatus.ACTIVE)
        platform = frozenset(p for p in Provider if self._platform.key_for(p) is not None)
        return await self._select(
            SelectModelsInput(
                mode=data.mode,
                allowed_tiers=data.allowed_tiers,
                byok_providers=byok,
                platform_providers=platform,
                model_id=data.model_id,
            )
        )
