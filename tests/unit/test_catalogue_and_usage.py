"""Catalogue administration, effective-dated prices and usage recording on the in-memory adapters."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date, timedelta

import pytest

from asynccoder.application.ai.catalogue import (
    CreateModel,
    CreateModelInput,
    DeleteModel,
    DeleteModelInput,
    GetModel,
    GetModelInput,
    ListModels,
    ListModelsInput,
    PriceValues,
    SetModelPrice,
    SetModelPriceInput,
    UpdateModel,
    UpdateModelInput,
    UpdateProviderConfig,
    UpdateProviderConfigInput,
)
from asynccoder.application.ai.usage import (
    GetModelUsageStats,
    GetModelUsageStatsInput,
    GetMyUsage,
    GetMyUsageInput,
    RecordedUsage,
    RecordModelUsage,
    RecordModelUsageInput,
)
from asynccoder.domain.ai import ModelTier, Provider, Usage
from asynccoder.domain.ai_catalogue import CallOutcome, KeySource
from asynccoder.domain.errors import Conflict, Forbidden, InvalidInput, NotFound, Refused
from asynccoder.domain.identity import (
    Actor,
    Role,
)
from asynccoder.domain.model_endpoints import ModelEndpointPolicy
from tests.support.ai import AllTiersEntitlements
from tests.support.ai_catalogue_builders import make_config
from tests.support.app import make_settings
from tests.support.builders import T0, new_id
from tests.support.system import SequentialIdGenerator
from tests.support.world import World

MakeWorld = Callable[[], Awaitable["CatalogueWorld"]]

DOLLAR_PER_MTOK = PriceValues(1_000_000, 1_000_000, 1_000_000, 1_000_000)


class CatalogueWorld(World):
    def __init__(self) -> None:
        super().__init__(
            make_settings(openai_api_key="sk-platform-openai"),
            ids=SequentialIdGenerator(start=9000),
            entitlements=AllTiersEntitlements(),
        )
        self.admin = Actor(new_id(), Role.ADMIN)
        self.user = Actor(new_id(), Role.USER)

    async def seed(self) -> CatalogueWorld:
        await self.open()
        async with self.uow() as uow:
            for provider in (Provider.ANTHROPIC, Provider.OPENAI):
                await uow.ai_catalogue.save_provider_config(make_config(provider))
            await uow.commit()
        return self

    async def create_model(self, actor: Actor | None = None, **overrides: object):  # type: ignore[no-untyped-def]
        values: dict[str, object] = {
            "actor": actor or self.admin,
            "provider": Provider.OPENAI,
            "model_name": f"gpt-{new_id().hex[:12]}",
            "display_name": "GPT",
            "context_window": 400_000,
            "max_output_tokens": 128_000,
            "capabilities": frozenset(),
            "tier": ModelTier.STANDARD,
            "price": DOLLAR_PER_MTOK,
        }
        values.update(overrides)
        return await self.run(CreateModel, CreateModelInput(**values))  # type: ignore[arg-type]

    async def record(self, data: RecordModelUsageInput) -> RecordedUsage:
        return await self.run(RecordModelUsage, data)


@pytest.fixture
async def make_world() -> AsyncIterator[Callable[[], Awaitable[CatalogueWorld]]]:
    worlds: list[CatalogueWorld] = []

    async def make() -> CatalogueWorld:
        worlds.append(CatalogueWorld())
        return await worlds[-1].seed()

    yield make
    for world in worlds:
        await world.close()


async def test_only_admins_change_the_catalogue(make_world: MakeWorld) -> None:
    world = await make_world()
    with pytest.raises(Forbidden):
        await world.create_model(world.user)


async def test_a_model_name_is_unique_per_provider(make_world: MakeWorld) -> None:
    world = await make_world()
    await world.create_model(model_name="gpt-5")
    with pytest.raises(Conflict) as caught:
        await world.create_model(model_name="gpt-5")
    assert caught.value.code == "model_exists"


async def test_a_model_of_an_unconfigured_provider_is_invalid(make_world: MakeWorld) -> None:
    world = await make_world()
    with pytest.raises(InvalidInput):
        await world.create_model(provider=Provider.GEMINI)


async def test_a_price_change_applies_from_its_start_and_never_to_earlier_calls(
    make_world: MakeWorld,
) -> None:
    world = await make_world()
    view = await world.create_model()
    model_id = view.model.id
    before = await world.record(
        RecordModelUsageInput(
            world.user.user_id,
            model_id,
            KeySource.PLATFORM,
            "gpt",
            Usage(input_tokens=1_000_000),
            500,
            CallOutcome.OK,
        )
    )
    assert (before.cost_credits, before.charged_credits) == (1000, 1000)  # $1
    await world.run(
        SetModelPrice,
        SetModelPriceInput(world.admin, model_id, PriceValues(2_000_000, 0, 0, 0), T0 + timedelta(hours=1)),
    )
    world.clock.advance(timedelta(hours=2))
    after = await world.record(
        RecordModelUsageInput(
            world.user.user_id,
            model_id,
            KeySource.BYOK,
            "gpt",
            Usage(input_tokens=1_000_000),
            500,
            CallOutcome.OK,
        )
    )
    assert (after.cost_credits, after.charged_credits) == (2000, 0)
    mine = await world.run(GetMyUsage, GetMyUsageInput(world.user.user_id, T0.date(), T0.date()))
    assert [(r.calls, r.cost_credits, r.charged_credits) for r in mine] == [(2, 3000, 1000)]
    current = await world.run(GetModel, GetModelInput(world.user, model_id))
    assert current.price is not None
    assert current.price.input_micro_usd_per_mtok == 2_000_000


async def test_a_price_cannot_be_backdated(make_world: MakeWorld) -> None:
    world = await make_world()
    view = await world.create_model()
    with pytest.raises(Refused) as caught:
        await world.run(
            SetModelPrice,
            SetModelPriceInput(world.admin, view.model.id, DOLLAR_PER_MTOK, T0 - timedelta(seconds=1)),
        )
    assert caught.value.code == "price_backdated"


async def test_a_used_model_cannot_be_deleted_but_can_be_disabled_and_then_hidden_from_users(
    make_world: MakeWorld,
) -> None:
    world = await make_world()
    model_id = (await world.create_model()).model.id
    await world.record(
        RecordModelUsageInput(
            world.user.user_id, model_id, KeySource.PLATFORM, "gpt", Usage(), 10, CallOutcome.OK
        )
    )
    with pytest.raises(Conflict):
        await world.run(DeleteModel, DeleteModelInput(world.admin, model_id))
    await world.run(UpdateModel, UpdateModelInput(world.admin, model_id, enabled=False))
    get = await world.get(GetModel)
    with pytest.raises(NotFound):
        await get(GetModelInput(world.user, model_id))
    assert (await get(GetModelInput(world.admin, model_id))).usable is False


async def test_listing_pages_newest_first_and_says_what_the_caller_can_use(make_world: MakeWorld) -> None:
    world = await make_world()
    first = await world.create_model()
    second = await world.create_model(provider=Provider.ANTHROPIC)
    third = await world.create_model()
    list_models = await world.get(ListModels)
    page = await list_models(ListModelsInput(world.user, limit=2))
    assert [v.model.id for v in page.items] == [third.model.id, second.model.id]
    assert [v.unusable_reason for v in page.items] == [None, "no_provider_key"]
    rest = await list_models(ListModelsInput(world.user, limit=2, cursor=page.next_cursor))
    assert [v.model.id for v in rest.items] == [first.model.id]
    assert rest.next_cursor is None


async def test_daily_stats_count_calls_errors_tokens_and_latency(make_world: MakeWorld) -> None:
    world = await make_world()
    model_id = (await world.create_model()).model.id
    for latency, outcome in [(80, CallOutcome.OK)] * 18 + [(3000, CallOutcome.OVERLOADED)] * 2:
        await world.record(
            RecordModelUsageInput(
                world.user.user_id, model_id, KeySource.PLATFORM, "gpt", Usage(10, 5), latency, outcome
            )
        )
    [row] = await world.run(GetModelUsageStats, GetModelUsageStatsInput(world.admin, T0.date(), T0.date()))
    assert (row.calls, row.errors, row.input_tokens, row.output_tokens) == (20, 2, 200, 100)
    assert (row.latency_p50_ms, row.latency_p95_ms) == (100, 4000)
    with pytest.raises(Forbidden):
        await world.run(GetModelUsageStats, GetModelUsageStatsInput(world.user, T0.date(), T0.date()))
    with pytest.raises(InvalidInput):
        await world.run(GetMyUsage, GetMyUsageInput(world.user.user_id, date(2026, 1, 2), date(2026, 1, 1)))


async def test_a_custom_endpoint_needs_an_https_base_url(make_world: MakeWorld) -> None:
    world = await make_world()
    update = UpdateProviderConfig(world.uow(), world.clock, ModelEndpointPolicy(production=True))
    with pytest.raises(InvalidInput):
        await update(UpdateProviderConfigInput(world.admin, Provider.OPENAI_COMPATIBLE, "Local", None, True))
    with pytest.raises(InvalidInput):
        await update(
            UpdateProviderConfigInput(
                world.admin, Provider.OPENAI_COMPATIBLE, "X", "http://user:pw@x.io", True
            )
        )
    config = await update(
        UpdateProviderConfigInput(
            world.admin, Provider.OPENAI_COMPATIBLE, "vLLM", "https://llm.example.com/v1", True
        )
    )
    assert config.base_url == "https://llm.example.com/v1"


@pytest.mark.parametrize(
    "url",
    [
        "http://llm.example.com/v1",
        "https://127.0.0.1:8000/v1",
        "https://10.0.0.5/v1",
        "https://169.254.169.254/latest",
        "https://[::1]/v1",
        "https://localhost/v1",
    ],
)
async def test_custom_endpoints_on_plain_http_or_internal_addresses_are_rejected(
    make_world: MakeWorld, url: str
) -> None:
    world = await make_world()
    with pytest.raises(InvalidInput):
        await UpdateProviderConfig(world.uow(), world.clock, ModelEndpointPolicy(production=True))(
            UpdateProviderConfigInput(world.admin, Provider.OPENAI_COMPATIBLE, "Custom", url, True)
        )
