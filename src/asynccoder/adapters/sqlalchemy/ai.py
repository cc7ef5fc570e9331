"""SQLAlchemy repositories of the model catalogue, users' own keys and usage."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from asynccoder.adapters.sqlalchemy.ai_tables import (
    LATENCY_COLUMNS,
    ai_model_prices,
    ai_models,
    ai_provider_configs,
    api_key_providers,
    api_key_usage_logs,
    api_keys,
    model_usage_stats,
)
from asynccoder.adapters.sqlalchemy.dialect import insert_on_conflict
from asynccoder.adapters.sqlalchemy.errors import constraint_name
from asynccoder.application.ports.ai import (
    ApiKeyRepository,
    ModelCatalogueRepository,
    ModelFilter,
    ModelUsageRepository,
)
from asynccoder.domain.ai import ModelTier, Provider
from asynccoder.domain.ai_catalogue import (
    ApiKey,
    ApiKeyProviderInfo,
    ApiKeyStatus,
    CallOutcome,
    Capability,
    CatalogueModel,
    DailyModelUsage,
    ModelPrice,
    ProviderConfig,
    TaskMode,
    UsageLogEntry,
    UserDailyUsage,
    latency_bucket,
)
from asynccoder.domain.errors import Conflict

_CAPABILITY_COLUMNS = {
    Capability.TOOLS: "supports_tools",
    Capability.VISION: "supports_vision",
    Capability.STREAMING: "supports_streaming",
}


def _to_config(row: Any) -> ProviderConfig:
    return ProviderConfig(Provider(row.provider), row.display_name, row.base_url, row.enabled, row.updated_at)


def _to_model(row: Any) -> CatalogueModel:
    return CatalogueModel(
        id=row.id,
        provider=Provider(row.provider),
        model_name=row.model_name,
        display_name=row.display_name,
        context_window=row.context_window,
        max_output_tokens=row.max_output_tokens,
        capabilities=frozenset(c for c, column in _CAPABILITY_COLUMNS.items() if getattr(row, column)),
        tier=ModelTier(row.tier),
        enabled=row.enabled,
        default_modes=frozenset(TaskMode(m) for m in row.default_modes.split(",") if m),
        created_at=row.created_at,
        updated_at=row.updated_at,
        deprecated_on=row.deprecated_on,
        retires_on=row.retires_on,
        replacement_model_id=row.replacement_model_id,
    )


def _model_row(model: CatalogueModel) -> dict[str, Any]:
    return {
        "id": model.id,
        "provider": model.provider.value,
        "model_name": model.model_name,
        "display_name": model.display_name,
        "context_window": model.context_window,
        "max_output_tokens": model.max_output_tokens,
        **{column: c in model.capabilities for c, column in _CAPABILITY_COLUMNS.items()},
        "tier": model.tier.value,
        "enabled": model.enabled,
        "default_modes": ",".join(sorted(m.value for m in model.default_modes)),
        "created_at": model.created_at,
        "updated_at": model.updated_at,
        "deprecated_on": model.deprecated_on,
        "retires_on": model.retires_on,
        "replacement_model_id": model.replacement_model_id,
    }


def _to_price(row: Any) -> ModelPrice:
    return ModelPrice(
        id=row.id,
        model_id=row.model_id,
        effective_from=row.effective_from,
        input_micro_usd_per_mtok=row.input_micro_usd_per_mtok,
        output_micro_usd_per_mtok=row.output_micro_usd_per_mtok,
        cache_read_micro_usd_per_mtok=row.cache_read_micro_usd_per_mtok,
        cache_write_micro_usd_per_mtok=row.cache_write_micro_usd_per_mtok,
        created_at=row.created_at,
    )


class SqlAlchemyModelCatalogueRepository(ModelCatalogueRepository):
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def list_provider_configs(self) -> list[ProviderConfig]:
        rows = await self._conn.execute(ai_provider_configs.select().order_by(ai_provider_configs.c.provider))
        return [_to_config(r) for r in rows]

    async def get_provider_config(self, provider: Provider) -> ProviderConfig | None:
        row = (
            await self._conn.execute(
                ai_provider_configs.select().where(ai_provider_configs.c.provider == provider.value)
            )
        ).first()
        return _to_config(row) if row else None

    async def save_provider_config(self, config: ProviderConfig) -> None:
        values = {
            "display_name": config.display_name,
            "base_url": config.base_url,
            "enabled": config.enabled,
            "updated_at": config.updated_at,
        }
        updated = await self._conn.execute(
            ai_provider_configs.update()
            .where(ai_provider_configs.c.provider == config.provider.value)
            .values(**values)
        )
        if updated.rowcount == 0:
            await self._conn.execute(
                ai_provider_configs.insert().values(provider=config.provider.value, **values)
            )

    async def add_model(self, model: CatalogueModel) -> None:
        try:
            await self._conn.execute(ai_models.insert().values(**_model_row(model)))
        except IntegrityError as exc:
            if constraint_name(exc) == "uq_ai_models_provider_model_name":
                raise Conflict("This provider's model is already catalogued.", code="model_exists") from None
            raise

    async def update_model(self, model: CatalogueModel) -> None:
        values = _model_row(model)
        for fixed in ("id", "provider", "model_name", "created_at"):
            del values[fixed]
        await self._conn.execute(ai_models.update().where(ai_models.c.id == model.id).values(**values))

    async def delete_model(self, model_id: UUID) -> bool:
        await self._conn.execute(ai_model_prices.delete().where(ai_model_prices.c.model_id == model_id))
        await self._conn.execute(
            ai_models.update()
            .where(ai_models.c.replacement_model_id == model_id)
            .values(replacement_model_id=None)
        )
        result = await self._conn.execute(ai_models.delete().where(ai_models.c.id == model_id))
        return bool(result.rowcount)

    async def get_model(self, model_id: UUID) -> CatalogueModel | None:
        row = (await self._conn.execute(ai_models.select().where(ai_models.c.id == model_id))).first()
        return _to_model(row) if row else None

    async def list_models(
        self, model_filter: ModelFilter, *, limit: int | None = None, before: UUID | None = None
    ) -> list[CatalogueModel]:
        query = ai_models.select().order_by(ai_models.c.id.desc())
        if model_filter.provider is not None:
            query = query.where(ai_models.c.provider == model_filter.provider.value)
        if model_filter.tier is not None:
            query = query.where(ai_models.c.tier == model_filter.tier.value)
        if model_filter.capability is not None:
            query = query.where(ai_models.c[_CAPABILITY_COLUMNS[model_filter.capability]].is_(True))
        if model_filter.enabled_only:
            query = query.where(ai_models.c.enabled.is_(True))
        if before is not None:
            query = query.where(ai_models.c.id < before)
        if limit is not None:
            query = query.limit(limit)
        return [_to_model(r) for r in await self._conn.execute(query)]

    async def add_price(self, price: ModelPrice) -> None:
        try:
            await self._conn.execute(
                ai_model_prices.insert().values(
                    id=price.id,
                    model_id=price.model_id,
                    effective_from=price.effective_from,
                    input_micro_usd_per_mtok=price.input_micro_usd_per_mtok,
                    output_micro_usd_per_mtok=price.output_micro_usd_per_mtok,
                    cache_read_micro_usd_per_mtok=price.cache_read_micro_usd_per_mtok,
                    cache_write_micro_usd_per_mtok=price.cache_write_micro_usd_per_mtok,
                    created_at=price.created_at,
                )
            )
        except IntegrityError as exc:
            if constraint_name(exc) == "uq_ai_model_prices_model_id_effective_from":
                raise Conflict("A price already starts at this time.", code="price_exists") from None
            raise

    async def list_prices(self, model_id: UUID) -> list[ModelPrice]:
        rows = await self._conn.execute(
            ai_model_prices.select()
            .where(ai_model_prices.c.model_id == model_id)
            .order_by(ai_model_prices.c.effective_from)
        )
        return [_to_price(r) for r in rows]

    async def prices_at(self, model_ids: Sequence[UUID], moment: datetime) -> dict[UUID, ModelPrice]:
        if not model_ids:
            return {}
        rows = await self._conn.execute(
            ai_model_prices.select()
            .where(
                ai_model_prices.c.model_id.in_(list(model_ids)), ai_model_prices.c.effective_from <= moment
            )
            .order_by(ai_model_prices.c.model_id, ai_model_prices.c.effective_from)
        )
        found: dict[UUID, ModelPrice] = {}
        for row in rows:
            found[row.model_id] = _to_price(row)  # ascending order: the last one wins
        return found


def _to_key(row: Any) -> ApiKey:
    return ApiKey(
        id=row.id,
        user_id=row.user_id,
        provider=Provider(row.provider),
        label=row.label,
        last4=row.last4,
        sealed_key=row.sealed_key,
        status=ApiKeyStatus(row.status),
        monthly_cap_credits=row.monthly_cap_credits,
        created_at=row.created_at,
        updated_at=row.updated_at,
        last_used_at=row.last_used_at,
    )


class SqlAlchemyApiKeyRepository(ApiKeyRepository):
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def list_key_providers(self) -> list[ApiKeyProviderInfo]:
        rows = await self._conn.execute(api_key_providers.select().order_by(api_key_providers.c.provider))
        return [ApiKeyProviderInfo(Provider(r.provider), r.display_name, r.key_hint) for r in rows]

    async def add(self, key: ApiKey) -> None:
        try:
            await self._conn.execute(
                api_keys.insert().values(
                    id=key.id,
                    user_id=key.user_id,
                    provider=key.provider.value,
                    label=key.label,
                    last4=key.last4,
                    sealed_key=key.sealed_key,
                    status=key.status.value,
                    monthly_cap_credits=key.monthly_cap_credits,
                    created_at=key.created_at,
                    updated_at=key.updated_at,
                    last_used_at=key.last_used_at,
                )
            )
        except IntegrityError as exc:
            if constraint_name(exc) == "uq_api_keys_user_id_provider":
                raise Conflict("You already have a key for this provider.", code="api_key_exists") from None
            raise

    async def update(self, key: ApiKey) -> None:
        await self._conn.execute(
            api_keys.update()
            .where(api_keys.c.id == key.id)
            .values(
                label=key.label,
                last4=key.last4,
                sealed_key=key.sealed_key,
                status=key.status.value,
                monthly_cap_credits=key.monthly_cap_credits,
                updated_at=key.updated_at,
                last_used_at=key.last_used_at,
            )
        )

    async def delete(self, key_id: UUID) -> bool:
        # Explicit, so the usage log keeps its rows on SQLite and PostgreSQL alike.
        await self._conn.execute(
            api_key_usage_logs.update()
            .where(api_key_usage_logs.c.api_key_id == key_id)
            .values(api_key_id=None)
        )
        result = await self._conn.execute(api_keys.delete().where(api_keys.c.id == key_id))
        return bool(result.rowcount)

    async def get(self, key_id: UUID) -> ApiKey | None:
        row = (await self._conn.execute(api_keys.select().where(api_keys.c.id == key_id))).first()
        return _to_key(row) if row else None

    async def get_for_provider(self, user_id: UUID, provider: Provider) -> ApiKey | None:
        row = (
            await self._conn.execute(
                api_keys.select().where(api_keys.c.user_id == user_id, api_keys.c.provider == provider.value)
            )
        ).first()
        return _to_key(row) if row else None

    async def list_for_user(
        self, user_id: UUID, *, limit: int | None = None, before: UUID | None = None
    ) -> list[ApiKey]:
        query = api_keys.select().where(api_keys.c.user_id == user_id).order_by(api_keys.c.id.desc())
        if before is not None:
            query = query.where(api_keys.c.id < before)
        if limit is not None:
            query = query.limit(limit)
        return [_to_key(r) for r in await self._conn.execute(query)]


class SqlAlchemyModelUsageRepository(ModelUsageRepository):
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def record(self, entry: UsageLogEntry) -> None:
        usage = entry.usage
        await self._conn.execute(
            api_key_usage_logs.insert().values(
                id=entry.id,
                user_id=entry.user_id,
                model_id=entry.model_id,
                api_key_id=entry.api_key_id,
                key_source=entry.key_source.value,
                answered_model=entry.answered_model,
                input_tokens=usage.input_tokens,
                output_tokens=usage.output_tokens,
                cache_read_tokens=usage.cache_read_tokens,
                cache_write_tokens=usage.cache_write_tokens,
                cost_credits=entry.cost_credits,
                charged_credits=entry.charged_credits,
                latency_ms=entry.latency_ms,
                outcome=entry.outcome.value,
                at=entry.at,
            )
        )
        bucket = latency_bucket(entry.latency_ms)
        increments: dict[str, int] = {
            "calls": 1,
            "errors": 0 if entry.outcome is CallOutcome.OK else 1,
            "input_tokens": usage.input_tokens,
            "output_tokens": usage.output_tokens,
            "cache_read_tokens": usage.cache_read_tokens,
            "cache_write_tokens": usage.cache_write_tokens,
            "cost_credits": entry.cost_credits,
            **{name: int(i == bucket) for i, name in enumerate(LATENCY_COLUMNS)},
        }
        insert = insert_on_conflict(self._conn, model_usage_stats)
        # One statement: concurrent records of the same (model, day) add up instead of overwriting each other.
        statement = insert.values(
            model_id=entry.model_id, day=entry.at.date(), **increments
        ).on_conflict_do_update(
            index_elements=[model_usage_stats.c.model_id, model_usage_stats.c.day],
            set_={name: model_usage_stats.c[name] + insert.excluded[name] for name in increments},
        )
        await self._conn.execute(statement)

    async def spent_on_key_since(self, api_key_id: UUID, since: datetime) -> int:
        total = await self._conn.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(api_key_usage_logs.c.cost_credits), 0)).where(
                api_key_usage_logs.c.api_key_id == api_key_id, api_key_usage_logs.c.at >= since
            )
        )
        return int(total or 0)

    async def model_has_usage(self, model_id: UUID) -> bool:
        found = await self._conn.scalar(
            sa.select(api_key_usage_logs.c.id).where(api_key_usage_logs.c.model_id == model_id).limit(1)
        )
        return found is not None

    async def daily_stats(
        self, *, start: date, end: date, model_id: UUID | None = None
    ) -> list[DailyModelUsage]:
        query = (
            model_usage_stats.select()
            .where(model_usage_stats.c.day >= start, model_usage_stats.c.day <= end)
            .order_by(model_usage_stats.c.day, model_usage_stats.c.model_id)
        )
        if model_id is not None:
            query = query.where(model_usage_stats.c.model_id == model_id)
        return [
            DailyModelUsage(
                model_id=row.model_id,
                day=row.day,
                calls=row.calls,
                errors=row.errors,
                input_tokens=row.input_tokens,
                output_tokens=row.output_tokens,
                cache_read_tokens=row.cache_read_tokens,
                cache_write_tokens=row.cache_write_tokens,
                cost_credits=row.cost_credits,
                latency_buckets=tuple(int(getattr(row, name)) for name in LATENCY_COLUMNS),
            )
            for row in await self._conn.execute(query)
        ]

    async def user_daily_usage(self, user_id: UUID, *, start: date, end: date) -> list[UserDailyUsage]:
        # Grouped in Python by UTC day: SQLite and PostgreSQL spell "date of a timestamp" differently, and one
        # user's rows within a bounded range are few.
        logs = api_key_usage_logs.c
        rows = await self._conn.execute(
            sa.select(
                logs.model_id,
                logs.at,
                logs.outcome,
                logs.input_tokens,
                logs.output_tokens,
                logs.cost_credits,
                logs.charged_credits,
            ).where(
                logs.user_id == user_id,
                logs.at >= datetime.combine(start, datetime.min.time(), tzinfo=UTC),
                logs.at < datetime.combine(end, datetime.min.time(), tzinfo=UTC) + timedelta(days=1),
            )
        )
        groups: dict[tuple[date, UUID], list[int]] = {}
        for row in rows:
            acc = groups.setdefault((row.at.date(), row.model_id), [0, 0, 0, 0, 0, 0])
            acc[0] += 1
            acc[1] += 0 if row.outcome == CallOutcome.OK.value else 1
            acc[2] += row.input_tokens
            acc[3] += row.output_tokens
            acc[4] += row.cost_credits
            acc[5] += row.charged_credits
        return [UserDailyUsage(model_id, day, *acc) for (day, model_id), acc in sorted(groups.items())]
