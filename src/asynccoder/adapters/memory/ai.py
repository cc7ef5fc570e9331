"""In-memory repositories of the model catalogue, users' own keys and usage."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import date, datetime
from uuid import UUID

from asynccoder.adapters.memory.store import AiCatalogueState, InMemoryStore
from asynccoder.application.ports.ai import (
    ApiKeyRepository,
    ModelCatalogueRepository,
    ModelFilter,
    ModelUsageRepository,
)
from asynccoder.domain.ai import Provider
from asynccoder.domain.ai_catalogue import (
    LATENCY_BUCKET_COUNT,
    ApiKey,
    ApiKeyProviderInfo,
    CallOutcome,
    CatalogueModel,
    DailyModelUsage,
    ModelPrice,
    ProviderConfig,
    UsageLogEntry,
    UserDailyUsage,
    latency_bucket,
    price_at,
)
from asynccoder.domain.errors import Conflict


class _Base:
    def __init__(self, store: InMemoryStore) -> None:
        self._store = store

    @property
    def _state(self) -> AiCatalogueState:
        return self._store.state.ai_catalogue


class InMemoryModelCatalogueRepository(_Base, ModelCatalogueRepository):
    async def list_provider_configs(self) -> list[ProviderConfig]:
        return sorted(self._state.provider_configs.values(), key=lambda c: c.provider.value)

    async def get_provider_config(self, provider: Provider) -> ProviderConfig | None:
        return self._state.provider_configs.get(provider)

    async def save_provider_config(self, config: ProviderConfig) -> None:
        self._state.provider_configs[config.provider] = config

    async def add_model(self, model: CatalogueModel) -> None:
        if any(
            m.provider == model.provider and m.model_name == model.model_name
            for m in self._state.models.values()
        ):
            raise Conflict("This provider's model is already catalogued.", code="model_exists")
        self._state.models[model.id] = model

    async def update_model(self, model: CatalogueModel) -> None:
        if model.id in self._state.models:
            self._state.models[model.id] = model

    async def delete_model(self, model_id: UUID) -> bool:
        self._state.prices = {k: p for k, p in self._state.prices.items() if p.model_id != model_id}
        # Models that named this one as their replacement name none (as the SQL repository does).
        for other in list(self._state.models.values()):
            if other.replacement_model_id == model_id:
                self._state.models[other.id] = dataclasses.replace(other, replacement_model_id=None)
        return self._state.models.pop(model_id, None) is not None

    async def get_model(self, model_id: UUID) -> CatalogueModel | None:
        return self._state.models.get(model_id)

    async def list_models(
        self, model_filter: ModelFilter, *, limit: int | None = None, before: UUID | None = None
    ) -> list[CatalogueModel]:
        found = [
            m
            for m in self._state.models.values()
            if (model_filter.provider is None or m.provider == model_filter.provider)
            and (model_filter.tier is None or m.tier == model_filter.tier)
            and (model_filter.capability is None or model_filter.capability in m.capabilities)
            and (not model_filter.enabled_only or m.enabled)
            and (before is None or m.id < before)
        ]
        found.sort(key=lambda m: m.id, reverse=True)
        return found[:limit] if limit is not None else found

    async def add_price(self, price: ModelPrice) -> None:
        if any(
            p.model_id == price.model_id and p.effective_from == price.effective_from
            for p in self._state.prices.values()
        ):
            raise Conflict("A price already starts at this time.", code="price_exists")
        self._state.prices[price.id] = price

    async def list_prices(self, model_id: UUID) -> list[ModelPrice]:
        prices = [p for p in self._state.prices.values() if p.model_id == model_id]
        return sorted(prices, key=lambda p: p.effective_from)

    async def prices_at(self, model_ids: Sequence[UUID], moment: datetime) -> dict[UUID, ModelPrice]:
        found: dict[UUID, ModelPrice] = {}
        for model_id in model_ids:
            price = price_at(await self.list_prices(model_id), moment)
            if price is not None:
                found[model_id] = price
        return found


class InMemoryApiKeyRepository(_Base, ApiKeyRepository):
    async def list_key_providers(self) -> list[ApiKeyProviderInfo]:
        return list(self._state.key_providers)

    async def add(self, key: ApiKey) -> None:
        if any(
            k.user_id == key.user_id and k.provider == key.provider for k in self._state.api_keys.values()
        ):
            raise Conflict("You already have a key for this provider.", code="api_key_exists")
        self._state.api_keys[key.id] = key

    async def update(self, key: ApiKey) -> None:
        if key.id in self._state.api_keys:
            self._state.api_keys[key.id] = key

    async def delete(self, key_id: UUID) -> bool:
        if self._state.api_keys.pop(key_id, None) is None:
            return False
        self._state.usage_logs = [
            dataclasses.replace(e, api_key_id=None) if e.api_key_id == key_id else e
            for e in self._state.usage_logs
        ]
        return True

    async def get(self, key_id: UUID) -> ApiKey | None:
        return self._state.api_keys.get(key_id)

    async def get_for_provider(self, user_id: UUID, provider: Provider) -> ApiKey | None:
        return next(
            (k for k in self._state.api_keys.values() if k.user_id == user_id and k.provider == provider),
            None,
        )

    async def list_for_user(
        self, user_id: UUID, *, limit: int | None = None, before: UUID | None = None
    ) -> list[ApiKey]:
        keys = sorted(
            (
                k
                for k in self._state.api_keys.values()
                if k.user_id == user_id and (before is None or k.id < before)
            ),
            key=lambda k: k.id,
            reverse=True,
        )
        return keys[:limit] if limit is not None else keys


class InMemoryModelUsageRepository(_Base, ModelUsageRepository):
    async def record(self, entry: UsageLogEntry) -> None:
        self._state.usage_logs.append(entry)
        day = entry.at.date()
        current = self._state.daily_stats.get(
            (entry.model_id, day), DailyModelUsage(entry.model_id, day, 0, 0, 0, 0, 0, 0, 0)
        )
        buckets = list(current.latency_buckets)
        buckets[latency_bucket(entry.latency_ms)] += 1
        self._state.daily_stats[(entry.model_id, day)] = DailyModelUsage(
            model_id=entry.model_id,
            day=day,
            calls=current.calls + 1,
            errors=current.errors + (0 if entry.outcome is CallOutcome.OK else 1),
            input_tokens=current.input_tokens + entry.usage.input_tokens,
            output_tokens=current.output_tokens + entry.usage.output_tokens,
            cache_read_tokens=current.cache_read_tokens + entry.usage.cache_read_tokens,
            cache_write_tokens=current.cache_write_tokens + entry.usage.cache_write_tokens,
            cost_credits=current.cost_credits + entry.cost_credits,
            latency_buckets=tuple(buckets),
        )
        assert len(buckets) == LATENCY_BUCKET_COUNT

    async def spent_on_key_since(self, api_key_id: UUID, since: datetime) -> int:
        return sum(
            e.cost_credits for e in self._state.usage_logs if e.api_key_id == api_key_id and e.at >= since
        )

    async def model_has_usage(self, model_id: UUID) -> bool:
        return any(e.model_id == model_id for e in self._state.usage_logs)

    async def daily_stats(
        self, *, start: date, end: date, model_id: UUID | None = None
    ) -> list[DailyModelUsage]:
        rows = [
            s
            for (m, day), s in self._state.daily_stats.items()
            if start <= day <= end and (model_id is None or m == model_id)
        ]
        return sorted(rows, key=lambda s: (s.day, s.model_id))

    async def user_daily_usage(self, user_id: UUID, *, start: date, end: date) -> list[UserDailyUsage]:
        groups: dict[tuple[date, UUID], list[UsageLogEntry]] = {}
        for entry in self._state.usage_logs:
            if entry.user_id == user_id and start <= entry.at.date() <= end:
                groups.setdefault((entry.at.date(), entry.model_id), []).append(entry)
        return [
            UserDailyUsage(
                model_id=model_id,
                day=day,
                calls=len(entries),
                errors=sum(1 for e in entries if e.outcome is not CallOutcome.OK),
                input_tokens=sum(e.usage.input_tokens for e in entries),
                output_tokens=sum(e.usage.output_tokens for e in entries),
                cost_credits=sum(e.cost_credits for e in entries),
                charged_credits=sum(e.charged_credits for e in entries),
            )
            for (day, model_id), entries in sorted(groups.items())
        ]
