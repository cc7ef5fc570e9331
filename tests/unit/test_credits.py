"""Credit use cases on the in-memory adapters: holds, settlement, expiry, idempotency, entitlements."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from asynccoder.adapters.stripe.memory_gateway import (
    InMemoryPaymentGateway,
    sign_payload,
)
from asynccoder.application.billing.catalogue import GetEntitlements
from asynccoder.application.billing.credits import (
    AdjustCredits,
    AdjustCreditsInput,
    ExpireHolds,
    ExpireHoldsInput,
    ExtendHold,
    ExtendHoldInput,
    ReleaseHold,
    ReleaseHoldInput,
    ReserveCredits,
    ReserveCreditsInput,
    SettleHold,
    SettleHoldInput,
)
from asynccoder.domain.ai import ModelTier
from asynccoder.domain.billing import (
    CreditAccount,
    EntryKind,
    HoldStatus,
    InsufficientCredits,
    LedgerEntry,
    Subscription,
    SubscriptionStatus,
)
from asynccoder.domain.errors import Conflict, Forbidden, InvalidInput, NotFound, Refused
from asynccoder.domain.identity import (
    Actor,
    Role,
)
from tests.support.billing import PRO
from tests.support.builders import T0, make_user, new_id
from tests.support.system import ManualClock
from tests.support.world import World


class CreditsWorld(World):
    def __init__(self) -> None:
        super().__init__()
        self.user = make_user()

    async def setup(self, credits: int = 100) -> CreditsWorld:
        await self.open()
        await self.add_users(self.user)
        if credits:
            await self.grant(self.user, credits, "start")
        return self

    async def reserve(self, amount: int, key: str, ttl: timedelta = timedelta(minutes=10)):  # type: ignore[no-untyped-def]
        return await self.run(ReserveCredits, ReserveCreditsInput(self.user.id, amount, key, ttl=ttl))

    async def settle(self, hold_id, actual: int, key: str):  # type: ignore[no-untyped-def]
        return await self.run(SettleHold, SettleHoldInput(self.user.id, hold_id, actual, key))

    async def account(self) -> CreditAccount:
        async with self.uow() as uow:
            return await uow.credits.get_account(self.user.id)


@pytest.fixture
async def world() -> AsyncIterator[CreditsWorld]:
    async with CreditsWorld() as world:
        yield await world.setup()


async def test_reserving_more_than_available_is_402_and_changes_nothing(world: CreditsWorld) -> None:
    with pytest.raises(InsufficientCredits) as caught:
        await world.reserve(101, "task:1")
    assert caught.value.code == "insufficient_credits"
    assert await world.account() == CreditAccount(world.user.id, 100, 0)


async def test_settling_spends_the_actual_amount_and_releases_the_rest(world: CreditsWorld) -> None:
    hold = (await world.reserve(60, "task:1:reserve")).hold
    result = await world.settle(hold.id, 25, "task:1:settle")
    assert [e.kind for e in result.entries] == [EntryKind.SETTLE, EntryKind.RELEASE]
    assert result.hold.status is HoldStatus.SETTLED
    assert await world.account() == CreditAccount(world.user.id, 75, 0)


async def test_a_hold_never_settles_for_more_than_it_holds(world: CreditsWorld) -> None:
    hold = (await world.reserve(60, "r")).hold
    with pytest.raises(Refused) as caught:
        await world.settle(hold.id, 61, "s")
    assert caught.value.code == "settle_exceeds_hold"
    assert await world.account() == CreditAccount(world.user.id, 40, 60)


async def test_a_hold_settles_at_most_once_and_a_replay_returns_the_original(world: CreditsWorld) -> None:
    hold = (await world.reserve(60, "r")).hold
    first = await world.settle(hold.id, 10, "s")
    replay = await world.settle(hold.id, 10, "s")
    with pytest.raises(Conflict) as caught:
        await world.settle(hold.id, 10, "another-key")
    assert replay.replayed
    assert replay.entries[0].id == first.entries[0].id
    assert caught.value.code == "hold_not_active"
    assert await world.account() == CreditAccount(world.user.id, 90, 0)


async def test_releasing_returns_the_whole_hold_once(world: CreditsWorld) -> None:
    hold = (await world.reserve(30, "r")).hold
    await world.run(ReleaseHold, ReleaseHoldInput(world.user.id, hold.id, "rel"))
    again = await world.run(ReleaseHold, ReleaseHoldInput(world.user.id, hold.id, "rel"))
    assert again.replayed
    assert await world.account() == CreditAccount(world.user.id, 100, 0)


async def test_someone_elses_hold_is_not_found(world: CreditsWorld) -> None:
    hold = (await world.reserve(30, "r")).hold
    with pytest.raises(NotFound):
        await world.run(SettleHold, SettleHoldInput(new_id(), hold.id, 1, "s"))
    with pytest.raises(NotFound):
        await world.run(ExtendHold, ExtendHoldInput(new_id(), hold.id, timedelta(hours=1)))


async def test_a_key_reused_for_another_operation_is_a_conflict(world: CreditsWorld) -> None:
    await world.reserve(30, "same-key")
    with pytest.raises(Conflict) as caught:
        await world.grant(world.user, 5, "same-key")
    assert caught.value.code == "idempotency_key_reused"


async def test_stale_holds_expire_and_their_credits_return(world: CreditsWorld) -> None:
    hold = (await world.reserve(30, "r", ttl=timedelta(minutes=10))).hold
    assert await world.run(ExpireHolds, ExpireHoldsInput()) == 0
    world.clock.advance(timedelta(minutes=11))
    assert await world.run(ExpireHolds, ExpireHoldsInput()) == 1
    assert await world.run(ExpireHolds, ExpireHoldsInput()) == 0
    with pytest.raises(Conflict):
        await world.settle(hold.id, 1, "late")
    assert await world.account() == CreditAccount(world.user.id, 100, 0)


async def test_extending_a_hold_only_moves_its_expiry_forward(world: CreditsWorld) -> None:
    hold = (await world.reserve(30, "r", ttl=timedelta(minutes=10))).hold
    longer = await world.run(ExtendHold, ExtendHoldInput(world.user.id, hold.id, timedelta(hours=1)))
    shorter = await world.run(ExtendHold, ExtendHoldInput(world.user.id, hold.id, timedelta(minutes=1)))
    assert longer.expires_at == T0 + timedelta(hours=1)
    assert shorter.expires_at == longer.expires_at
    world.clock.advance(timedelta(minutes=30))
    assert await world.run(ExpireHolds, ExpireHoldsInput()) == 0


async def test_only_admins_adjust_and_never_below_zero(world: CreditsWorld) -> None:
    admin = Actor(new_id(), Role.ADMIN)
    with pytest.raises(Forbidden):
        await world.run(AdjustCredits, AdjustCreditsInput(world.user.as_actor(), world.user.id, 5, "me"))
    with pytest.raises(InvalidInput):
        await world.run(AdjustCredits, AdjustCreditsInput(admin, world.user.id, 5, "  "))
    with pytest.raises(Refused):
        await world.run(AdjustCredits, AdjustCreditsInput(admin, world.user.id, -101, "fix"))
    result = await world.run(AdjustCredits, AdjustCreditsInput(admin, world.user.id, -40, "fix"))
    assert result.entry.reason == "fix"
    assert await world.account() == CreditAccount(world.user.id, 60, 0)


def test_ledger_entries_obey_the_sign_rules() -> None:
    user = new_id()
    with pytest.raises(ValueError, match="grant"):
        LedgerEntry(new_id(), user, EntryKind.GRANT, -5, 0, "k", T0)
    with pytest.raises(ValueError, match="hold"):
        LedgerEntry(new_id(), user, EntryKind.HOLD, -5, 4, "k", T0)
    with pytest.raises(InsufficientCredits):
        CreditAccount(user, 3, 0).apply(LedgerEntry(new_id(), user, EntryKind.HOLD, -5, 5, "k", T0))


async def test_entitlements_follow_the_subscription_and_fall_back_to_free(world: CreditsWorld) -> None:
    free = await world.run(GetEntitlements, world.user.id)
    subscription = Subscription(
        id=new_id(),
        user_id=world.user.id,
        plan_id=PRO.id,
        stripe_subscription_id="sub_1",
        status=SubscriptionStatus.ACTIVE,
        current_period_start=T0,
        current_period_end=T0 + timedelta(days=30),
        cancel_at_period_end=True,
        last_event_at=T0,
        created_at=T0,
        updated_at=T0,
    )
    async with world.uow() as uow:
        await uow.subscriptions.insert_if_absent(subscription)
        await uow.commit()
    pro = await world.run(GetEntitlements, world.user.id)
    world.clock.advance(timedelta(days=31))
    after_period = await world.run(GetEntitlements, world.user.id)

    assert (free.plan_code, free.allowed_tiers, free.max_concurrent_tasks) == (
        "free",
        (ModelTier.ECONOMY,),
        1,
    )
    assert pro.plan_code == "pro"
    assert pro.allows(ModelTier.PREMIUM)
    assert after_period.plan_code == "free"


def test_the_in_memory_gateway_verifies_signatures_with_its_clock() -> None:
    clock = ManualClock(T0)
    gateway = InMemoryPaymentGateway(clock, "whsec_x")
    payload = b'{"id": "evt_1", "type": "ping", "created": 1, "data": {"object": {}}}'
    now = int(T0.timestamp())
    assert gateway.parse_event(payload, sign_payload(payload, "whsec_x", now)).id == "evt_1"
    clock.advance(timedelta(seconds=301))
    with pytest.raises(InvalidInput):
        gateway.parse_event(payload, sign_payload(payload, "whsec_x", now))
