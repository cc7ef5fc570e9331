"""Users' own provider keys: sealed storage, validation, ownership, and which key a call uses."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta

import pytest

from asynccoder.application.ai.api_keys import (
    CallCredentials,
    CreateApiKey,
    CreateApiKeyInput,
    DeleteApiKey,
    DeleteApiKeyInput,
    GetApiKey,
    GetApiKeyInput,
    ListApiKeys,
    ListApiKeysInput,
    ResolveCallCredentials,
    ResolveCallCredentialsInput,
    StoredProviderKeys,
    UpdateApiKey,
    UpdateApiKeyInput,
)
from asynccoder.application.ai.model_trial import (
    TryModel,
    TryModelInput,
)
from asynccoder.application.ai.usage import (
    RecordModelUsage,
    RecordModelUsageInput,
)
from asynccoder.application.ports.ai import TierEntitlements
from asynccoder.domain.ai import ModelTier, Provider, ProviderAuthError, ProviderOverloaded, Usage
from asynccoder.domain.ai_catalogue import ApiKeyStatus, CallOutcome, KeySource, api_key_context
from asynccoder.domain.billing import InsufficientCredits
from asynccoder.domain.errors import Conflict, InvalidInput, NotFound, Refused
from asynccoder.domain.identity import (
    Actor,
    Role,
)
from tests.support.ai import AllTiersEntitlements, pong_models
from tests.support.ai_catalogue_builders import make_config, make_model, make_price
from tests.support.app import make_settings
from tests.support.builders import T0, new_id
from tests.support.system import SequentialIdGenerator
from tests.support.world import World

CANARY = "sk-ant-CANARY-0123456789-wxyz"
PLATFORM_KEY = "sk-ant-PLATFORM-key-9999"


class KeysWorld(World):
    def __init__(self, platform: dict[Provider, str | None] | None = None) -> None:
        settings = make_settings(claude_api_key=(platform or {}).get(Provider.ANTHROPIC))
        super().__init__(
            settings,
            ids=SequentialIdGenerator(start=5000),
            models=pong_models(),
            entitlements=AllTiersEntitlements(),
        )
        self.factory = self.models
        self.alice = Actor(new_id(), Role.USER)
        self.bob = Actor(new_id(), Role.USER)
        self.model = make_model(
            provider=Provider.ANTHROPIC, model_name="claude-haiku-4-5", tier=ModelTier.ECONOMY
        )

    async def seed(self) -> KeysWorld:
        await self.open()
        async with self.uow() as uow:
            await uow.ai_catalogue.save_provider_config(make_config(Provider.ANTHROPIC))
            await uow.ai_catalogue.add_model(self.model)
            await uow.ai_catalogue.add_price(make_price(self.model.id, input_micro_usd_per_mtok=1_000_000))
            await uow.commit()
        return self

    async def resolve(self, data: ResolveCallCredentialsInput) -> CallCredentials:
        return await self.run(ResolveCallCredentials, data)

    async def try_model(self, entitlements: TierEntitlements | None = None) -> TryModel:
        self.entitlements = entitlements or AllTiersEntitlements()
        return await self.get(TryModel)

    async def account(self, actor: Actor) -> tuple[int, int]:
        async with self.uow() as uow:
            account = await uow.credits.get_account(actor.user_id)
        return account.available, account.held

    async def add_key(self, actor: Actor, **kwargs: object) -> object:
        values: dict[str, object] = {"actor": actor, "provider": Provider.ANTHROPIC, "key": CANARY}
        values.update(kwargs)
        return await self.run(CreateApiKey, CreateApiKeyInput(**values))  # type: ignore[arg-type]


MakeWorld = Callable[..., Awaitable["KeysWorld"]]


@pytest.fixture
async def make_world() -> AsyncIterator[MakeWorld]:
    worlds: list[KeysWorld] = []

    async def make(platform: dict[Provider, str | None] | None = None) -> KeysWorld:
        worlds.append(KeysWorld(platform))
        return await worlds[-1].seed()

    yield make
    for world in worlds:
        await world.close()


async def test_a_stored_key_is_sealed_to_its_row_and_shows_only_its_last_four_characters(
    make_world: MakeWorld,
) -> None:
    world = await make_world()
    key = await world.add_key(world.alice, label="laptop")
    assert key.last4 == "wxyz"  # type: ignore[attr-defined]
    assert CANARY not in repr(key)
    async with world.uow() as uow:
        stored = await uow.api_keys.get(key.id)  # type: ignore[attr-defined]
    assert stored is not None
    assert CANARY not in stored.sealed_key
    assert world.box.decrypt(stored.sealed_key, context=api_key_context(stored.id, stored.user_id)) == CANARY


async def test_a_second_key_for_the_same_provider_conflicts(make_world: MakeWorld) -> None:
    world = await make_world()
    await world.add_key(world.alice)
    with pytest.raises(Conflict) as caught:
        await world.add_key(world.alice, key=CANARY + "2")
    assert caught.value.code == "api_key_exists"


async def test_a_key_the_provider_rejects_is_refused_and_not_stored(make_world: MakeWorld) -> None:
    world = await make_world()
    world.factory.behaviour = lambda ref, key: ProviderAuthError("invalid x-api-key")
    with pytest.raises(Refused) as caught:
        await world.add_key(world.alice, validate=True)
    assert caught.value.code == "api_key_invalid"
    assert world.factory.calls[0].api_key == CANARY
    assert world.factory.calls[0].request.max_tokens <= 16
    page = await world.run(ListApiKeys, ListApiKeysInput(world.alice))
    assert page.items == []


async def test_an_unsupported_provider_is_invalid_input(make_world: MakeWorld) -> None:
    world = await make_world()
    with pytest.raises(InvalidInput):
        await world.add_key(world.alice, provider=Provider.OPENAI_COMPATIBLE)


async def test_someone_elses_key_is_not_found_for_read_change_and_delete(make_world: MakeWorld) -> None:
    world = await make_world()
    key = await world.add_key(world.alice)
    key_id = key.id  # type: ignore[attr-defined]
    with pytest.raises(NotFound):
        await world.run(GetApiKey, GetApiKeyInput(world.bob, key_id))
    with pytest.raises(NotFound):
        await world.run(UpdateApiKey, UpdateApiKeyInput(world.bob, key_id, label="mine now"))
    with pytest.raises(NotFound):
        await world.run(DeleteApiKey, DeleteApiKeyInput(world.bob, key_id))
    assert (await world.run(GetApiKey, GetApiKeyInput(world.alice, key_id))).label == ""
    assert (await world.run(ListApiKeys, ListApiKeysInput(world.bob))).items == []


async def test_the_users_own_key_is_used_and_charges_no_platform_credits(make_world: MakeWorld) -> None:
    world = await make_world({Provider.ANTHROPIC: PLATFORM_KEY})
    await world.add_key(world.alice)
    creds = await world.resolve(ResolveCallCredentialsInput(world.alice.user_id, Provider.ANTHROPIC))
    assert (creds.api_key, creds.key_source, creds.charges_platform_credits) == (
        CANARY,
        KeySource.BYOK,
        False,
    )
    assert CANARY not in repr(creds)


async def test_without_an_own_key_the_platform_key_is_used_and_charged(make_world: MakeWorld) -> None:
    world = await make_world({Provider.ANTHROPIC: PLATFORM_KEY})
    creds = await world.resolve(ResolveCallCredentialsInput(world.alice.user_id, Provider.ANTHROPIC))
    assert (creds.api_key, creds.key_source, creds.charges_platform_credits) == (
        PLATFORM_KEY,
        KeySource.PLATFORM,
        True,
    )


async def test_no_key_at_all_is_refused(make_world: MakeWorld) -> None:
    world = await make_world()
    with pytest.raises(Refused) as caught:
        await world.resolve(ResolveCallCredentialsInput(world.alice.user_id, Provider.ANTHROPIC))
    assert caught.value.code == "no_provider_key"


async def test_a_key_over_its_monthly_cap_falls_back_to_the_platform_until_next_month(
    make_world: MakeWorld,
) -> None:
    world = await make_world({Provider.ANTHROPIC: PLATFORM_KEY})
    key = await world.add_key(world.alice, monthly_cap_credits=5)
    # 5,000 input tokens at $1/M = $0.005 = 5 credits: the cap is reached.
    await world.run(
        RecordModelUsage,
        RecordModelUsageInput(
            user_id=world.alice.user_id,
            model_id=world.model.id,
            key_source=KeySource.BYOK,
            answered_model="claude-haiku-4-5",
            usage=Usage(input_tokens=5_000),
            latency_ms=300,
            outcome=CallOutcome.OK,
            api_key_id=key.id,  # type: ignore[attr-defined]
        ),
    )
    creds = await world.resolve(ResolveCallCredentialsInput(world.alice.user_id, Provider.ANTHROPIC))
    assert creds.key_source is KeySource.PLATFORM
    world.clock.set(T0.replace(day=1) + timedelta(days=40))
    creds = await world.resolve(ResolveCallCredentialsInput(world.alice.user_id, Provider.ANTHROPIC))
    assert creds.key_source is KeySource.BYOK


async def test_a_key_the_provider_rejected_in_a_call_is_marked_invalid_until_replaced(
    make_world: MakeWorld,
) -> None:
    world = await make_world({Provider.ANTHROPIC: PLATFORM_KEY})
    key = await world.add_key(world.alice)
    key_id = key.id  # type: ignore[attr-defined]
    await world.run(
        RecordModelUsage,
        RecordModelUsageInput(
            user_id=world.alice.user_id,
            model_id=world.model.id,
            key_source=KeySource.BYOK,
            answered_model="claude-haiku-4-5",
            usage=Usage(),
            latency_ms=80,
            outcome=CallOutcome.AUTH_FAILED,
            api_key_id=key_id,
        ),
    )
    stored = await world.run(GetApiKey, GetApiKeyInput(world.alice, key_id))
    assert stored.status is ApiKeyStatus.INVALID
    creds = await world.resolve(ResolveCallCredentialsInput(world.alice.user_id, Provider.ANTHROPIC))
    assert creds.key_source is KeySource.PLATFORM
    updated = await world.run(
        UpdateApiKey, UpdateApiKeyInput(world.alice, key_id, key="sk-ant-NEW-key-000-1234", validate=True)
    )
    assert (updated.status, updated.last4) == (ApiKeyStatus.ACTIVE, "1234")


async def test_a_ciphertext_copied_to_another_users_row_cannot_be_used(make_world: MakeWorld) -> None:
    world = await make_world({Provider.ANTHROPIC: PLATFORM_KEY})
    alice_key = await world.add_key(world.alice)
    bob_key = await world.add_key(world.bob, key="sk-ant-bob-key-5678")
    async with world.uow() as uow:
        stolen = await uow.api_keys.get(bob_key.id)  # type: ignore[attr-defined]
        assert stolen is not None
        await uow.api_keys.update(dataclasses.replace(stolen, sealed_key=alice_key.sealed_key))  # type: ignore[attr-defined]
        await uow.commit()
    creds = await world.resolve(ResolveCallCredentialsInput(world.bob.user_id, Provider.ANTHROPIC))
    assert creds.key_source is KeySource.PLATFORM
    assert creds.api_key != CANARY


async def test_testing_a_model_reports_a_provider_failure_as_a_result(make_world: MakeWorld) -> None:
    world = await make_world({Provider.ANTHROPIC: PLATFORM_KEY})
    await world.grant(world.alice, 10)
    world.factory.behaviour = lambda ref, key: ProviderOverloaded("Overloaded", provider="anthropic")
    try_model = await world.try_model()
    result = await try_model(TryModelInput(world.alice, world.model.id, use_own_key=False))
    assert (result.ok, result.error_code, result.charged_credits) == (False, "provider_overloaded", 0)
    assert world.factory.calls[0].api_key == PLATFORM_KEY
    assert await world.account(world.alice) == (10, 0)  # a failed test costs nothing, the hold is released


async def test_a_test_on_the_platform_key_is_paid_recorded_and_needs_the_credits(
    make_world: MakeWorld,
) -> None:
    world = await make_world({Provider.ANTHROPIC: PLATFORM_KEY})
    with pytest.raises(InsufficientCredits):  # a Free user with no credits gets no free use of the key
        await (await world.try_model())(TryModelInput(world.alice, world.model.id, use_own_key=False))
    assert world.factory.calls == []
    await world.grant(world.alice, 10)
    result = await (await world.try_model())(TryModelInput(world.alice, world.model.id, use_own_key=False))
    assert result.ok
    assert result.charged_credits >= 1
    assert await world.account(world.alice) == (10 - result.charged_credits, 0)
    async with world.uow() as uow:
        [day] = await uow.model_usage.user_daily_usage(world.alice.user_id, start=T0.date(), end=T0.date())
    assert (day.model_id, day.calls, day.errors, day.charged_credits) == (
        world.model.id,
        1,
        0,
        result.charged_credits,
    )


async def test_a_test_of_a_tier_the_plan_does_not_include_is_refused_before_any_call(
    make_world: MakeWorld,
) -> None:
    world = await make_world({Provider.ANTHROPIC: PLATFORM_KEY})
    await world.grant(world.alice, 10)

    class EconomyExcluded:
        async def allowed_tiers(self, user_id: object) -> frozenset[ModelTier]:
            return frozenset({ModelTier.STANDARD})

    with pytest.raises(Refused) as caught:
        await (await world.try_model(EconomyExcluded()))(
            TryModelInput(world.alice, world.model.id, use_own_key=False)
        )
    assert caught.value.code == "tier_not_allowed"
    assert world.factory.calls == []
    assert await world.account(world.alice) == (10, 0)


async def test_a_test_whose_own_key_the_provider_refuses_marks_the_key_invalid(make_world: MakeWorld) -> None:
    world = await make_world()
    key = await world.add_key(world.alice)
    world.factory.behaviour = lambda ref, key: ProviderAuthError("invalid x-api-key", provider="anthropic")
    result = await (await world.try_model())(TryModelInput(world.alice, world.model.id, use_own_key=True))
    assert (result.ok, result.error_code, result.charged_credits) == (False, "provider_auth_failed", 0)
    async with world.uow() as uow:
        stored = await uow.api_keys.get(key.id)  # type: ignore[attr-defined]
    assert stored is not None
    assert stored.status is ApiKeyStatus.INVALID


async def test_testing_with_an_own_key_needs_one_and_without_needs_a_platform_key(
    make_world: MakeWorld,
) -> None:
    world = await make_world()
    try_model = await world.try_model()
    with pytest.raises(Refused) as own:
        await try_model(TryModelInput(world.alice, world.model.id, use_own_key=True))
    with pytest.raises(Refused) as platform:
        await try_model(TryModelInput(world.alice, world.model.id, use_own_key=False))
    assert (own.value.code, platform.value.code) == ("no_own_key", "platform_key_not_configured")
    await world.add_key(world.alice)
    result = await try_model(TryModelInput(world.alice, world.model.id, use_own_key=True))
    assert (result.ok, result.model) == (True, "claude-haiku-4-5")
    assert world.factory.calls[-1].api_key == CANARY


async def test_the_agents_secret_scan_gets_only_the_users_own_decrypted_keys(make_world: MakeWorld) -> None:
    world = await make_world()
    await world.add_key(world.alice)
    bob_key = await world.add_key(world.bob, key="sk-ant-bob-key-5678")
    await world.add_key(world.bob, provider=Provider.OPENAI, key="sk-proj-bob-unreadable-1234")
    async with world.uow() as uow:
        (openai,) = [k for k in await uow.api_keys.list_for_user(world.bob.user_id) if k.id != bob_key.id]  # type: ignore[attr-defined]
        await uow.api_keys.update(dataclasses.replace(openai, sealed_key=bob_key.sealed_key))  # type: ignore[attr-defined]
        await uow.commit()

    alice = await StoredProviderKeys(world.uow(), world.box).for_user(world.alice.user_id)
    bob = await StoredProviderKeys(world.uow(), world.box).for_user(world.bob.user_id)

    assert alice == (CANARY,)
    assert bob == ("sk-ant-bob-key-5678",)  # the ciphertext moved to another row no longer decrypts
