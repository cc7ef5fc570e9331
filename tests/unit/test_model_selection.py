"""SelectModels: explicit choice or per-mode default, then one fallback per other reachable provider."""

from __future__ import annotations

import pytest

from asynccoder.adapters.memory.store import InMemoryStore
from asynccoder.adapters.memory.uow import InMemoryUnitOfWork
from asynccoder.adapters.system.platform_access import ConfiguredPlatformKeys
from asynccoder.application.ai.selection import (
    SelectModels,
    SelectModelsForUser,
    SelectModelsForUserInput,
    SelectModelsInput,
)
from asynccoder.domain.ai import ModelTier, Provider
from asynccoder.domain.ai_catalogue import ApiKeyStatus, CatalogueModel, KeySource, TaskMode
from asynccoder.domain.errors import NotFound, Refused
from tests.support.ai_catalogue_builders import make_api_key, make_config, make_model
from tests.support.builders import T0, new_id
from tests.support.system import ManualClock

ALL_TIERS = frozenset(ModelTier)
P = Provider
E, S, PR = ModelTier.ECONOMY, ModelTier.STANDARD, ModelTier.PREMIUM


async def catalogue(*models: CatalogueModel, disabled_providers: tuple[Provider, ...] = ()) -> InMemoryStore:
    store = InMemoryStore()
    async with InMemoryUnitOfWork(store) as uow:
        for provider in (P.ANTHROPIC, P.OPENAI, P.GEMINI):
            await uow.ai_catalogue.save_provider_config(
                make_config(provider, enabled=provider not in disabled_providers)
            )
        for model in models:
            await uow.ai_catalogue.add_model(model)
        await uow.commit()
    return store


def m(
    provider: Provider, name: str, tier: ModelTier, *modes: TaskMode, enabled: bool = True
) -> CatalogueModel:
    return make_model(
        provider=provider, model_name=name, tier=tier, default_modes=frozenset(modes), enabled=enabled
    )


OPUS = m(P.ANTHROPIC, "opus", PR, TaskMode.ARCHITECT)
SONNET = m(P.ANTHROPIC, "sonnet", S, *TaskMode)
HAIKU = m(P.ANTHROPIC, "haiku", E, *TaskMode)
GPT5 = m(P.OPENAI, "gpt-5", PR, TaskMode.ARCHITECT)
GPT5_MINI = m(P.OPENAI, "gpt-5-mini", S, *TaskMode)
GPT41_MINI = m(P.OPENAI, "gpt-4.1-mini", E, *TaskMode)
FLASH = m(P.GEMINI, "gemini-2.5-flash", S, *TaskMode)
FLASH_LITE = m(P.GEMINI, "gemini-2.5-flash-lite", E, *TaskMode)
EVERYTHING = (OPUS, SONNET, HAIKU, GPT5, GPT5_MINI, GPT41_MINI, FLASH, FLASH_LITE)


def names(result: object) -> list[str]:
    return [c.ref.model for c in result.candidates]  # type: ignore[attr-defined]


async def select(store: InMemoryStore, **kwargs: object) -> object:
    values: dict[str, object] = {
        "mode": TaskMode.ASK,
        "allowed_tiers": ALL_TIERS,
        "byok_providers": frozenset(),
        "platform_providers": frozenset({P.ANTHROPIC, P.OPENAI, P.GEMINI}),
    }
    values.update(kwargs)
    use_case = SelectModels(InMemoryUnitOfWork(store), ManualClock(T0))
    return await use_case(SelectModelsInput(**values))  # type: ignore[arg-type]


async def test_the_mode_default_of_the_highest_allowed_tier_comes_first_then_one_fallback_per_provider() -> (
    None
):
    store = await catalogue(*EVERYTHING)
    assert names(await select(store, mode=TaskMode.ASK)) == ["sonnet", "gpt-5-mini", "gemini-2.5-flash"]
    assert names(await select(store, mode=TaskMode.ARCHITECT)) == ["opus", "gpt-5", "gemini-2.5-flash"]


async def test_an_economy_plan_gets_economy_models_only() -> None:
    store = await catalogue(*EVERYTHING)
    result = await select(store, mode=TaskMode.ARCHITECT, allowed_tiers=frozenset({E}))
    assert names(result) == ["haiku", "gpt-4.1-mini", "gemini-2.5-flash-lite"]


async def test_an_explicit_model_comes_first_and_fallbacks_never_exceed_its_tier() -> None:
    store = await catalogue(*EVERYTHING)
    result = await select(store, model_id=GPT41_MINI.id)
    assert names(result) == ["gpt-4.1-mini", "haiku", "gemini-2.5-flash-lite"]


@pytest.mark.parametrize(
    ("model", "tiers"), [(OPUS, frozenset({S, E})), (m(P.ANTHROPIC, "old", S, enabled=False), ALL_TIERS)]
)
async def test_an_explicit_model_outside_the_plan_or_disabled_is_refused(
    model: CatalogueModel, tiers: frozenset[ModelTier]
) -> None:
    store = await catalogue(*EVERYTHING, *(() if model in EVERYTHING else (model,)))
    with pytest.raises(Refused) as caught:
        await select(store, model_id=model.id, allowed_tiers=tiers)
    assert caught.value.code == "model_not_allowed"


async def test_an_unknown_explicit_model_is_not_found() -> None:
    store = await catalogue(*EVERYTHING)
    with pytest.raises(NotFound):
        await select(store, model_id=new_id())


async def test_providers_without_any_key_are_skipped_and_own_keys_are_preferred() -> None:
    store = await catalogue(*EVERYTHING)
    result = await select(
        store, byok_providers=frozenset({P.GEMINI}), platform_providers=frozenset({P.OPENAI})
    )
    assert names(result) == ["gpt-5-mini", "gemini-2.5-flash"]
    sources = [c.key_source for c in result.candidates]  # type: ignore[attr-defined]
    assert sources == [KeySource.PLATFORM, KeySource.BYOK]
    assert [c.model_id for c in result.candidates] == [GPT5_MINI.id, FLASH.id]  # type: ignore[attr-defined]


async def test_a_disabled_provider_is_never_chosen() -> None:
    store = await catalogue(*EVERYTHING, disabled_providers=(P.ANTHROPIC,))
    assert "sonnet" not in names(await select(store))


async def test_nothing_reachable_is_refused_with_a_clear_code() -> None:
    store = await catalogue(*EVERYTHING)
    with pytest.raises(Refused) as caught:
        await select(store, platform_providers=frozenset())
    assert caught.value.code == "no_model_available"


async def test_selecting_for_a_user_prefers_their_active_own_keys_and_uses_configured_platform_keys() -> None:
    store = await catalogue(*EVERYTHING)
    user_id = new_id()
    async with InMemoryUnitOfWork(store) as uow:
        await uow.api_keys.add(make_api_key(user_id, provider=P.GEMINI))
        await uow.api_keys.add(make_api_key(user_id, provider=P.OPENAI, status=ApiKeyStatus.INVALID))
        await uow.commit()
    use_case = SelectModelsForUser(
        InMemoryUnitOfWork(store),
        SelectModels(InMemoryUnitOfWork(store), ManualClock(T0)),
        ConfiguredPlatformKeys({P.ANTHROPIC: "sk-ant-platform", P.OPENAI: None}),
    )
    result = await use_case(SelectModelsForUserInput(user_id, TaskMode.DEBUG, ALL_TIERS))
    assert [(c.ref.model, c.key_source) for c in result.candidates] == [
        ("sonnet", KeySource.PLATFORM),
        ("gemini-2.5-flash", KeySource.BYOK),
    ]
