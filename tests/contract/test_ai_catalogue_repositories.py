"""Catalogue, API key and model usage repository contracts on memory, SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from asynccoder.adapters.sqlalchemy.uow import SqlAlchemyUnitOfWork
from asynccoder.application.ports.ai import ModelFilter
from asynccoder.domain.ai import ModelTier, Provider, Usage
from asynccoder.domain.ai_catalogue import (
    ApiKeyStatus,
    CallOutcome,
    Capability,
    CatalogueModel,
    KeySource,
    TaskMode,
    UsageLogEntry,
)
from asynccoder.domain.errors import Conflict
from asynccoder.domain.identity import User
from tests.contract.conftest import UowFactory
from tests.support.ai_catalogue_builders import make_api_key, make_config, make_model, make_price
from tests.support.builders import T0, make_user, new_id


async def setup(uow_factory: UowFactory, *models: CatalogueModel, users: tuple[User, ...] = ()) -> None:
    async with uow_factory() as uow:
        for provider in (Provider.ANTHROPIC, Provider.OPENAI):
            await uow.ai_catalogue.save_provider_config(make_config(provider))
        for model in models:
            await uow.ai_catalogue.add_model(model)
        for user in users:
            await uow.users.add(user)
        await uow.commit()


def log_entry(user: User, model: CatalogueModel, **overrides: object) -> UsageLogEntry:
    values: dict[str, object] = {
        "id": new_id(),
        "user_id": user.id,
        "model_id": model.id,
        "api_key_id": None,
        "key_source": KeySource.PLATFORM,
        "answered_model": model.model_name,
        "usage": Usage(100, 20, 5, 1),
        "cost_credits": 7,
        "charged_credits": 7,
        "latency_ms": 420,
        "outcome": CallOutcome.OK,
        "at": T0,
    }
    values.update(overrides)
    return UsageLogEntry(**values)  # type: ignore[arg-type]


async def test_models_and_provider_configs_are_read_back_exactly(uow_factory: UowFactory) -> None:
    model = make_model(
        capabilities=frozenset({Capability.TOOLS, Capability.STREAMING}),
        default_modes=frozenset({TaskMode.ASK, TaskMode.PR_REVIEW}),
        tier=ModelTier.PREMIUM,
    )
    await setup(uow_factory, model)
    async with uow_factory() as uow:
        assert await uow.ai_catalogue.get_model(model.id) == model
        configs = await uow.ai_catalogue.list_provider_configs()
        assert [c.provider for c in configs] == [Provider.ANTHROPIC, Provider.OPENAI]
        config = dataclasses.replace(configs[0], base_url="https://gw.example.com", enabled=False)
        await uow.ai_catalogue.save_provider_config(config)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.ai_catalogue.get_provider_config(Provider.ANTHROPIC) == config


async def test_model_names_are_unique_per_provider(uow_factory: UowFactory) -> None:
    model = make_model(model_name="same")
    await setup(uow_factory, model, make_model(model_name="same", provider=Provider.OPENAI))
    with pytest.raises(Conflict) as caught:
        async with uow_factory() as uow:
            await uow.ai_catalogue.add_model(make_model(model_name="same"))
    assert caught.value.code == "model_exists"


async def test_listing_filters_and_pages_newest_first(uow_factory: UowFactory) -> None:
    a = make_model(tier=ModelTier.ECONOMY, capabilities=frozenset({Capability.VISION}))
    b = make_model(provider=Provider.OPENAI, capabilities=frozenset())
    c = make_model(enabled=False)
    await setup(uow_factory, a, b, c)
    async with uow_factory() as uow:
        catalogue = uow.ai_catalogue
        assert [m.id for m in await catalogue.list_models(ModelFilter())] == [b.id, a.id]
        assert [m.id for m in await catalogue.list_models(ModelFilter(enabled_only=False))] == [
            c.id,
            b.id,
            a.id,
        ]
        assert [m.id for m in await catalogue.list_models(ModelFilter(provider=Provider.OPENAI))] == [b.id]
        assert [m.id for m in await catalogue.list_models(ModelFilter(tier=ModelTier.ECONOMY))] == [a.id]
        assert [m.id for m in await catalogue.list_models(ModelFilter(capability=Capability.VISION))] == [
            a.id
        ]
        page = await catalogue.list_models(ModelFilter(enabled_only=False), limit=1, before=c.id)
        assert [m.id for m in page] == [b.id]


async def test_prices_are_effective_dated_and_unique_per_start(uow_factory: UowFactory) -> None:
    model = make_model()
    old = make_price(model.id, effective_from=T0)
    new = make_price(model.id, effective_from=T0 + timedelta(days=1), input_micro_usd_per_mtok=1)
    await setup(uow_factory, model)
    async with uow_factory() as uow:
        await uow.ai_catalogue.add_price(new)
        await uow.ai_catalogue.add_price(old)
        await uow.commit()
    async with uow_factory() as uow:
        catalogue = uow.ai_catalogue
        assert await catalogue.list_prices(model.id) == [old, new]
        assert await catalogue.prices_at([model.id], T0 - timedelta(seconds=1)) == {}
        assert await catalogue.prices_at([model.id], T0 + timedelta(hours=23)) == {model.id: old}
        assert await catalogue.prices_at([model.id], T0 + timedelta(days=2)) == {model.id: new}
    with pytest.raises(Conflict) as caught:
        async with uow_factory() as uow:
            await uow.ai_catalogue.add_price(make_price(model.id, effective_from=T0))
    assert caught.value.code == "price_exists"


async def test_deleting_a_model_removes_it_and_its_prices(uow_factory: UowFactory) -> None:
    model = make_model()
    await setup(uow_factory, model)
    async with uow_factory() as uow:
        await uow.ai_catalogue.add_price(make_price(model.id))
        assert await uow.ai_catalogue.delete_model(model.id) is True
        assert await uow.ai_catalogue.delete_model(model.id) is False
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.ai_catalogue.get_model(model.id) is None
        assert await uow.ai_catalogue.list_prices(model.id) == []


async def test_api_keys_round_trip_one_per_user_and_provider(uow_factory: UowFactory) -> None:
    alice, bob = make_user(), make_user()
    await setup(uow_factory, users=(alice, bob))
    key = make_api_key(alice.id, monthly_cap_credits=500)
    async with uow_factory() as uow:
        assert {p.provider for p in await uow.api_keys.list_key_providers()} == {
            Provider.ANTHROPIC,
            Provider.OPENAI,
            Provider.GEMINI,
        }
        await uow.api_keys.add(key)
        await uow.api_keys.add(make_api_key(bob.id))
        await uow.commit()
    with pytest.raises(Conflict) as caught:
        async with uow_factory() as uow:
            await uow.api_keys.add(make_api_key(alice.id))
    assert caught.value.code == "api_key_exists"
    changed = dataclasses.replace(key, label="x", status=ApiKeyStatus.INVALID, last_used_at=T0)
    async with uow_factory() as uow:
        assert await uow.api_keys.get(key.id) == key
        assert await uow.api_keys.get_for_provider(alice.id, Provider.ANTHROPIC) == key
        assert await uow.api_keys.get_for_provider(alice.id, Provider.OPENAI) is None
        assert await uow.api_keys.list_for_user(alice.id) == [key]
        await uow.api_keys.update(changed)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.api_keys.get(key.id) == changed
        assert await uow.api_keys.delete(key.id) is True
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.api_keys.list_for_user(alice.id) == []
        assert len(await uow.api_keys.list_for_user(bob.id)) == 1


async def test_usage_is_logged_summed_per_key_and_aggregated_per_model_and_day(
    uow_factory: UowFactory,
) -> None:
    user = make_user()
    model = make_model()
    await setup(uow_factory, model, users=(user,))
    key = make_api_key(user.id)
    async with uow_factory() as uow:
        await uow.api_keys.add(key)
        await uow.model_usage.record(log_entry(user, model, api_key_id=key.id, key_source=KeySource.BYOK))
        await uow.model_usage.record(log_entry(user, model, latency_ms=5000, outcome=CallOutcome.OVERLOADED))
        await uow.model_usage.record(log_entry(user, model, at=T0 + timedelta(days=1)))
        await uow.commit()
    async with uow_factory() as uow:
        usage = uow.model_usage
        assert await usage.spent_on_key_since(key.id, T0 - timedelta(days=1)) == 7
        assert await usage.spent_on_key_since(key.id, T0 + timedelta(seconds=1)) == 0
        assert await usage.model_has_usage(model.id) is True
        assert await usage.model_has_usage(new_id()) is False
        day0, day1 = await usage.daily_stats(start=T0.date(), end=T0.date() + timedelta(days=1))
        assert (day0.calls, day0.errors, day0.input_tokens, day0.cache_write_tokens, day0.cost_credits) == (
            2,
            1,
            200,
            2,
            14,
        )
        assert (day0.latency_p50_ms, day0.latency_p95_ms) == (500, 8000)
        assert day1.calls == 1
        assert await usage.daily_stats(start=T0.date(), end=T0.date(), model_id=new_id()) == []
        mine = await usage.user_daily_usage(user.id, start=T0.date(), end=T0.date())
        assert [(r.calls, r.errors, r.cost_credits, r.charged_credits) for r in mine] == [(2, 1, 14, 14)]
        assert await usage.user_daily_usage(new_id(), start=T0.date(), end=T0.date()) == []
    async with uow_factory() as uow:
        await uow.api_keys.delete(key.id)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.model_usage.user_daily_usage(user.id, start=T0.date(), end=T0.date()) != []


async def test_fifty_concurrent_records_on_postgresql_all_land(postgres_engine: AsyncEngine) -> None:
    def uow_factory() -> SqlAlchemyUnitOfWork:
        return SqlAlchemyUnitOfWork(postgres_engine)

    user, model = make_user(), make_model()
    await setup(uow_factory, model, users=(user,))

    async def record_one() -> None:
        async with uow_factory() as uow:
            await uow.model_usage.record(log_entry(user, model))
            await uow.commit()

    await asyncio.gather(*(record_one() for _ in range(50)))
    async with uow_factory() as uow:
        [row] = await uow.model_usage.daily_stats(start=T0.date(), end=T0.date())
    assert (row.calls, row.input_tokens, row.cost_credits, sum(row.latency_buckets)) == (50, 5000, 350, 50)


async def test_two_concurrent_keys_for_one_provider_on_postgresql_leave_exactly_one(
    postgres_engine: AsyncEngine,
) -> None:
    user = make_user()

    def uow_factory() -> SqlAlchemyUnitOfWork:
        return SqlAlchemyUnitOfWork(postgres_engine)

    await setup(uow_factory, users=(user,))

    async def add_one() -> str:
        try:
            async with uow_factory() as uow:
                await uow.api_keys.add(make_api_key(user.id))
                await uow.commit()
        except Conflict as exc:
            return exc.code
        return "added"

    outcomes = await asyncio.gather(*(add_one() for _ in range(10)))
    assert sorted(outcomes) == ["added"] + ["api_key_exists"] * 9
