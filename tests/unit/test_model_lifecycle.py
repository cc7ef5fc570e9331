"""Model lifecycle: selection, usability and admin edits around deprecation and retirement dates.

Every test runs on a fixed clock, on both sides of the dates it sets, so none depends on today's date.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from asynccoder.adapters.memory.store import InMemoryStore
from asynccoder.adapters.memory.uow import InMemoryUnitOfWork
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
    UpdateModel,
    UpdateModelInput,
)
from asynccoder.application.ai.model_trial import TryModel, TryModelInput
from asynccoder.application.ai.selection import SelectedModels, SelectModels, SelectModelsInput
from asynccoder.application.ports.ai import ModelFilter
from asynccoder.domain.ai import ModelTier, Provider
from asynccoder.domain.ai_catalogue import CatalogueModel, TaskMode
from asynccoder.domain.errors import InvalidInput, Refused
from asynccoder.domain.identity import Actor, Role
from asynccoder.domain.model_lifecycle import ModelRetired, is_deprecated, is_retired
from tests.support.ai import AllTiersEntitlements
from tests.support.ai_catalogue_builders import make_config, make_model
from tests.support.app import make_settings
from tests.support.builders import new_id
from tests.support.system import ManualClock, SequentialIdGenerator
from tests.support.world import World

P = Provider
E, S, PR = ModelTier.ECONOMY, ModelTier.STANDARD, ModelTier.PREMIUM
DEPRECATED_ON = date(2031, 3, 1)
RETIRES_ON = date(2031, 6, 1)
BEFORE = datetime(2031, 2, 28, 23, 59, tzinfo=UTC)  # neither date reached
DEPRECATED_ONLY = datetime(2031, 3, 1, 0, 0, tzinfo=UTC)  # deprecated, not retired
RETIRED = datetime(2031, 6, 1, 0, 0, tzinfo=UTC)  # the first moment of the retirement day


def m(
    provider: Provider, name: str, tier: ModelTier, *modes: TaskMode, **lifecycle: object
) -> CatalogueModel:
    return make_model(
        provider=provider, model_name=name, tier=tier, default_modes=frozenset(modes), **lifecycle
    )


async def catalogue(*models: CatalogueModel) -> InMemoryStore:
    store = InMemoryStore()
    async with InMemoryUnitOfWork(store) as uow:
        for provider in (P.ANTHROPIC, P.OPENAI, P.GEMINI):
            await uow.ai_catalogue.save_provider_config(make_config(provider))
        for model in models:
            await uow.ai_catalogue.add_model(model)
        await uow.commit()
    return store


async def select(store: InMemoryStore, at: datetime, **kwargs: object) -> SelectedModels:
    values: dict[str, object] = {
        "mode": TaskMode.ARCHITECT,
        "allowed_tiers": frozenset(ModelTier),
        "byok_providers": frozenset(),
        "platform_providers": frozenset({P.ANTHROPIC, P.OPENAI, P.GEMINI}),
    }
    values.update(kwargs)
    return await SelectModels(InMemoryUnitOfWork(store), ManualClock(at))(SelectModelsInput(**values))  # type: ignore[arg-type]


def names(result: SelectedModels) -> list[str]:
    return [c.ref.model for c in result.candidates]


# ---- the rules themselves


def test_a_model_is_deprecated_and_retired_from_the_start_of_each_utc_day() -> None:
    model = make_model(deprecated_on=DEPRECATED_ON, retires_on=RETIRES_ON)
    assert (is_deprecated(model, BEFORE), is_retired(model, BEFORE)) == (False, False)
    assert (is_deprecated(model, DEPRECATED_ONLY), is_retired(model, DEPRECATED_ONLY)) == (True, False)
    assert (is_deprecated(model, RETIRED), is_retired(model, RETIRED)) == (True, True)
    # 2031-06-01 01:00 in UTC+2 is still 2031-05-31 in UTC: not retired yet.
    east = datetime(2031, 6, 1, 1, 0, tzinfo=timezone(timedelta(hours=2)))
    assert is_retired(model, east) is False
    assert is_retired(make_model(), RETIRED) is False


# ---- selection


async def test_a_deprecated_default_gives_way_to_a_current_one_from_its_deprecation_day() -> None:
    opus = m(P.ANTHROPIC, "opus", PR, TaskMode.ARCHITECT, deprecated_on=DEPRECATED_ON, retires_on=RETIRES_ON)
    store = await catalogue(
        opus,
        m(P.ANTHROPIC, "sonnet", S, *TaskMode),
        m(P.OPENAI, "gpt-5", PR, TaskMode.ARCHITECT),
        m(P.GEMINI, "flash", S, *TaskMode),
    )
    assert names(await select(store, BEFORE)) == ["opus", "gpt-5", "flash"]
    assert names(await select(store, DEPRECATED_ONLY)) == ["gpt-5", "sonnet", "flash"]
    assert names(await select(store, RETIRED)) == ["gpt-5", "sonnet", "flash"]


async def test_a_retired_model_is_never_chosen_even_when_nothing_else_fits() -> None:
    store = await catalogue(m(P.ANTHROPIC, "opus", PR, *TaskMode, retires_on=RETIRES_ON))
    assert names(await select(store, BEFORE)) == ["opus"]
    with pytest.raises(Refused) as caught:
        await select(store, RETIRED)
    assert caught.value.code == "no_model_available"


async def test_a_deprecated_model_is_chosen_when_nothing_else_fits() -> None:
    store = await catalogue(
        m(P.ANTHROPIC, "opus", PR, TaskMode.ARCHITECT, deprecated_on=DEPRECATED_ON),
        m(P.OPENAI, "gpt-5", PR, TaskMode.ARCHITECT, deprecated_on=DEPRECATED_ON),
    )
    assert names(await select(store, DEPRECATED_ONLY)) == ["opus", "gpt-5"]


async def test_a_current_model_outside_the_mode_defaults_beats_a_deprecated_default() -> None:
    store = await catalogue(
        m(P.ANTHROPIC, "opus", PR, TaskMode.ARCHITECT, deprecated_on=DEPRECATED_ON),
        m(P.ANTHROPIC, "haiku", E),
    )
    assert names(await select(store, BEFORE)) == ["opus"]
    assert names(await select(store, DEPRECATED_ONLY)) == ["haiku"]


async def test_fallbacks_prefer_current_models_and_skip_retired_ones() -> None:
    store = await catalogue(
        m(P.ANTHROPIC, "sonnet", S, *TaskMode),
        m(P.OPENAI, "gpt-5-mini", S, *TaskMode, deprecated_on=DEPRECATED_ON, retires_on=RETIRES_ON),
        m(P.OPENAI, "gpt-4.1-mini", E, *TaskMode),
        m(P.GEMINI, "flash", S, *TaskMode, retires_on=RETIRES_ON),
        m(P.GEMINI, "flash-lite", E, *TaskMode),
    )
    ask = {"mode": TaskMode.ASK}
    assert names(await select(store, BEFORE, **ask)) == ["sonnet", "gpt-5-mini", "flash"]
    assert names(await select(store, DEPRECATED_ONLY, **ask)) == ["sonnet", "flash", "gpt-4.1-mini"]
    assert names(await select(store, RETIRED, **ask)) == ["sonnet", "gpt-4.1-mini", "flash-lite"]


async def test_a_deprecated_fallback_comes_after_current_ones_of_a_lower_tier() -> None:
    store = await catalogue(
        m(P.ANTHROPIC, "sonnet", S, *TaskMode),
        m(P.OPENAI, "gpt-5-mini", S, *TaskMode, deprecated_on=DEPRECATED_ON),
        m(P.GEMINI, "flash-lite", E, *TaskMode),
    )
    ask = {"mode": TaskMode.ASK}
    assert names(await select(store, BEFORE, **ask)) == ["sonnet", "gpt-5-mini", "flash-lite"]
    assert names(await select(store, DEPRECATED_ONLY, **ask)) == ["sonnet", "flash-lite", "gpt-5-mini"]


async def test_an_explicit_retired_model_is_refused_with_the_first_replacement_that_is_not_retired() -> None:
    newest = m(P.ANTHROPIC, "opus-6", PR, TaskMode.ARCHITECT)
    newer = m(P.ANTHROPIC, "opus-5", PR, retires_on=RETIRES_ON, replacement_model_id=newest.id)
    old = m(P.ANTHROPIC, "opus-4", PR, retires_on=date(2031, 1, 1), replacement_model_id=newer.id)
    store = await catalogue(old, newer, newest)
    with pytest.raises(ModelRetired) as caught:
        await select(store, BEFORE, model_id=old.id)
    assert (caught.value.code, caught.value.replacement_model_id) == ("model_retired", newer.id)
    with pytest.raises(ModelRetired) as caught:
        await select(store, RETIRED, model_id=old.id)
    assert caught.value.replacement_model_id == newest.id
    assert names(await select(store, BEFORE, model_id=newer.id)) == ["opus-5"]


async def test_a_retired_model_with_no_live_replacement_suggests_none_even_in_a_cycle() -> None:
    a = m(P.ANTHROPIC, "a", PR, retires_on=RETIRES_ON)
    b = m(P.ANTHROPIC, "b", PR, retires_on=RETIRES_ON, replacement_model_id=a.id)
    a = dataclasses.replace(a, replacement_model_id=b.id)
    store = await catalogue(a, b)
    with pytest.raises(ModelRetired) as caught:
        await select(store, RETIRED, model_id=a.id)
    assert caught.value.replacement_model_id is None


async def test_an_explicit_deprecated_model_is_honoured() -> None:
    opus = m(P.ANTHROPIC, "opus", PR, deprecated_on=DEPRECATED_ON)
    store = await catalogue(opus, m(P.OPENAI, "gpt-5", PR, TaskMode.ARCHITECT))
    assert names(await select(store, DEPRECATED_ONLY, model_id=opus.id)) == ["opus", "gpt-5"]


# ---- browsing, trying and editing the catalogue


DOLLAR = PriceValues(1_000_000, 1_000_000, 1_000_000, 1_000_000)


class LifecycleWorld(World):
    def __init__(self) -> None:
        super().__init__(
            make_settings(claude_api_key="sk-ant-platform"),
            clock=ManualClock(BEFORE),
            ids=SequentialIdGenerator(start=70_000),
            entitlements=AllTiersEntitlements(),
        )
        self.admin = Actor(new_id(), Role.ADMIN)

    async def seed(self) -> LifecycleWorld:
        await self.open()
        async with self.uow() as uow:
            await uow.ai_catalogue.save_provider_config(make_config(P.ANTHROPIC))
            await uow.commit()
        return self

    async def create(self, **overrides: object) -> CatalogueModel:
        values: dict[str, object] = {
            "actor": self.admin,
            "provider": P.ANTHROPIC,
            "model_name": f"claude-{new_id().hex}",
            "display_name": "Claude",
            "context_window": 200_000,
            "max_output_tokens": 64_000,
            "capabilities": frozenset(),
            "tier": S,
            "price": DOLLAR,
        }
        values.update(overrides)
        view = await self.run(CreateModel, CreateModelInput(**values))  # type: ignore[arg-type]
        return view.model

    async def update(self, model: CatalogueModel, **changes: object) -> CatalogueModel:
        return await self.run(UpdateModel, UpdateModelInput(self.admin, model.id, **changes))  # type: ignore[arg-type]

    async def usability(self, model: CatalogueModel) -> tuple[bool, str | None]:
        view = await self.run(GetModel, GetModelInput(self.admin, model.id))
        return view.usable, view.unusable_reason


@pytest.fixture
async def world() -> AsyncIterator[LifecycleWorld]:
    async with LifecycleWorld() as world:
        yield await world.seed()


async def test_a_model_becomes_unusable_on_its_retirement_day_in_lists_and_lookups(
    world: LifecycleWorld,
) -> None:
    model = await world.create(deprecated_on=DEPRECATED_ON, retires_on=RETIRES_ON)
    list_models = await world.get(ListModels)
    for moment, expected in ((DEPRECATED_ONLY, (True, None)), (RETIRED, (False, "model_retired"))):
        world.clock.set(moment)
        [item] = (await list_models(ListModelsInput(world.admin))).items
        assert (item.usable, item.unusable_reason) == expected
        assert (item.model.deprecated_on, item.model.retires_on) == (DEPRECATED_ON, RETIRES_ON)
        assert await world.usability(model) == expected


async def test_trying_a_retired_model_is_refused_with_its_replacement(world: LifecycleWorld) -> None:
    replacement = await world.create()
    model = await world.create(retires_on=RETIRES_ON, replacement_model_id=replacement.id)
    world.clock.set(RETIRED)
    # Nothing past the catalogue is reached: no key, no entitlements, no charge, no call, no record.
    use_case = await world.get(TryModel)
    with pytest.raises(ModelRetired) as caught:
        await use_case(TryModelInput(world.admin, model.id, use_own_key=False))
    assert caught.value.replacement_model_id == replacement.id


@pytest.mark.parametrize(
    ("lifecycle", "field"),
    [
        ({"deprecated_on": RETIRES_ON, "retires_on": DEPRECATED_ON}, "retires_on"),
        ({"replacement_model_id": new_id()}, "replacement_model_id"),
    ],
)
async def test_creating_a_model_with_an_invalid_lifecycle_is_refused(
    world: LifecycleWorld, lifecycle: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        await world.create(**lifecycle)
    assert [p.field for p in caught.value.problems] == [field]
    async with world.uow() as uow:
        assert await uow.ai_catalogue.list_models(ModelFilter(enabled_only=False)) == []


async def test_a_replacement_must_be_another_model_that_is_not_retired(world: LifecycleWorld) -> None:
    retired = await world.create(retires_on=date(2031, 1, 1))
    model = await world.create()
    for replacement_id, message in (
        (model.id, "must name another model"),
        (retired.id, "names a retired model"),
    ):
        with pytest.raises(InvalidInput) as caught:
            await world.update(model, replacement_model_id=replacement_id)
        assert [(p.field, p.message) for p in caught.value.problems] == [("replacement_model_id", message)]
    # Before its retirement date the same model is a valid replacement.
    world.clock.set(datetime(2030, 12, 31, tzinfo=UTC))
    assert (await world.update(model, replacement_model_id=retired.id)).replacement_model_id == retired.id


async def test_an_update_keeps_unsent_lifecycle_fields_and_clears_them_with_none(
    world: LifecycleWorld,
) -> None:
    replacement = await world.create()
    model = await world.create(
        deprecated_on=DEPRECATED_ON, retires_on=RETIRES_ON, replacement_model_id=replacement.id
    )
    renamed = await world.update(model, display_name="Claude (old)")
    assert (renamed.deprecated_on, renamed.retires_on, renamed.replacement_model_id) == (
        DEPRECATED_ON,
        RETIRES_ON,
        replacement.id,
    )
    cleared = await world.update(model, deprecated_on=None, replacement_model_id=None)
    assert (cleared.deprecated_on, cleared.retires_on, cleared.replacement_model_id) == (
        None,
        RETIRES_ON,
        None,
    )
    with pytest.raises(InvalidInput):
        await world.update(model, deprecated_on=RETIRES_ON + timedelta(days=1))


async def test_editing_a_model_whose_replacement_has_since_retired_still_works(world: LifecycleWorld) -> None:
    replacement = await world.create(retires_on=RETIRES_ON)
    model = await world.create(replacement_model_id=replacement.id)
    world.clock.set(RETIRED)
    assert (await world.update(model, display_name="Renamed")).replacement_model_id == replacement.id


async def test_deleting_a_replacement_clears_the_reference_to_it(world: LifecycleWorld) -> None:
    replacement = await world.create()
    model = await world.create(replacement_model_id=replacement.id)
    await world.run(DeleteModel, DeleteModelInput(world.admin, replacement.id))
    async with world.uow() as uow:
        stored = await uow.ai_catalogue.get_model(model.id)
    assert stored is not None
    assert stored.replacement_model_id is None
