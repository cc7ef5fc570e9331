"""Billing repositories behave the same on memory, SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta

import pytest

from asynccoder.domain.billing import (
    EntryKind,
    HoldStatus,
    InsufficientCredits,
    LedgerEntry,
    Subscription,
    SubscriptionStatus,
)
from asynccoder.domain.errors import Conflict
from tests.contract.conftest import UowFactory
from tests.support.billing import PRO, STARTER, seed_catalogue
from tests.support.builders import T0, make_user, new_id


async def _user(uow_factory: UowFactory):  # type: ignore[no-untyped-def]
    user = make_user()
    async with uow_factory() as uow:
        await uow.users.add(user)
        await uow.commit()
    return user


def _subscription(user_id, status: SubscriptionStatus, at_minutes: int) -> Subscription:  # type: ignore[no-untyped-def]
    return Subscription(
        id=new_id(),
        user_id=user_id,
        plan_id=PRO.id,
        stripe_subscription_id="sub_contract",
        status=status,
        current_period_start=T0,
        current_period_end=T0 + timedelta(days=30),
        cancel_at_period_end=False,
        last_event_at=T0 + timedelta(minutes=at_minutes),
        created_at=T0,
        updated_at=T0,
    )


async def test_posting_is_idempotent_and_never_overdraws(uow_factory: UowFactory) -> None:
    user = await _user(uow_factory)
    grant = LedgerEntry(new_id(), user.id, EntryKind.GRANT, 10, 0, "g", T0)
    async with uow_factory() as uow:
        assert (await uow.credits.post(grant))[1] is True
        stored, created = await uow.credits.post(dataclasses.replace(grant, id=new_id(), available_delta=99))
        assert (stored.id, created) == (grant.id, False)
        await uow.commit()
    with pytest.raises(InsufficientCredits):
        async with uow_factory() as uow:
            await uow.credits.post(LedgerEntry(new_id(), user.id, EntryKind.HOLD, -11, 11, "h", T0))
    async with uow_factory() as uow:
        account = await uow.credits.get_account(user.id)
        assert (account.available, account.held) == (10, 0)
        assert await uow.credits.sum_entries(user.id) == (10, 0)
        assert await uow.credits.find_entry(user.id, "h") is None


async def test_a_hold_finishes_once(uow_factory: UowFactory) -> None:
    from asynccoder.domain.billing import CreditHold

    user = await _user(uow_factory)
    hold = CreditHold(new_id(), user.id, 5, HoldStatus.ACTIVE, T0 + timedelta(minutes=5), T0, T0)
    async with uow_factory() as uow:
        await uow.credits.post(LedgerEntry(new_id(), user.id, EntryKind.GRANT, 5, 0, "g", T0))
        await uow.credits.add_hold(hold)
        assert await uow.credits.stale_holds(T0 + timedelta(minutes=6), 10) == [hold]
        assert await uow.credits.finish_hold(hold.id, HoldStatus.SETTLED, T0, 3) is True
        assert await uow.credits.finish_hold(hold.id, HoldStatus.RELEASED, T0) is False
        assert await uow.credits.extend_hold(hold.id, T0 + timedelta(hours=1), T0) is False
        stored = await uow.credits.get_hold(hold.id)
        assert stored is not None
        assert (stored.status, stored.settled_amount) == (HoldStatus.SETTLED, 3)


async def test_older_subscription_states_never_overwrite_newer_ones_and_canceled_is_final(
    uow_factory: UowFactory,
) -> None:
    await seed_catalogue(uow_factory)
    user = await _user(uow_factory)
    async with uow_factory() as uow:
        assert await uow.subscriptions.insert_if_absent(_subscription(user.id, SubscriptionStatus.ACTIVE, 10))
        assert not await uow.subscriptions.insert_if_absent(
            _subscription(user.id, SubscriptionStatus.ACTIVE, 0)
        )
        assert not await uow.subscriptions.apply_if_newer(
            _subscription(user.id, SubscriptionStatus.PAST_DUE, 5)
        )
        assert await uow.subscriptions.apply_if_newer(_subscription(user.id, SubscriptionStatus.PAST_DUE, 20))
        assert await uow.subscriptions.apply_if_newer(_subscription(user.id, SubscriptionStatus.CANCELED, 15))
        assert not await uow.subscriptions.apply_if_newer(
            _subscription(user.id, SubscriptionStatus.ACTIVE, 99)
        )
        assert not await uow.subscriptions.set_status_if_newer(
            "sub_contract", SubscriptionStatus.ACTIVE, T0 + timedelta(days=1), T0
        )
        current = await uow.subscriptions.current_for_user(user.id)
        assert current is not None
        assert current.status is SubscriptionStatus.CANCELED


async def test_events_are_recorded_once_and_forgotten_on_rollback(uow_factory: UowFactory) -> None:
    async with uow_factory() as uow:
        assert await uow.stripe_events.add("evt_rolled_back", "x", T0, T0)
    async with uow_factory() as uow:
        assert await uow.stripe_events.add("evt_rolled_back", "x", T0, T0)
        assert not await uow.stripe_events.add("evt_rolled_back", "x", T0, T0)
        await uow.commit()


async def test_catalogue_codes_are_unique(uow_factory: UowFactory) -> None:
    await seed_catalogue(uow_factory)
    with pytest.raises(Conflict) as caught:
        async with uow_factory() as uow:
            await uow.billing_catalogue.save_package(dataclasses.replace(STARTER, id=new_id()))
    assert caught.value.code == "code_taken"


async def test_customers_link_first_writer_wins(uow_factory: UowFactory) -> None:
    a, b = await _user(uow_factory), await _user(uow_factory)
    async with uow_factory() as uow:
        assert await uow.subscriptions.link_customer(a.id, "cus_a", T0) == "cus_a"
        assert await uow.subscriptions.link_customer(a.id, "cus_other", T0) == "cus_a"
        await uow.subscriptions.link_customer(b.id, "cus_a", T0)
        assert await uow.subscriptions.get_customer_id(b.id) is None
        assert await uow.subscriptions.get_user_by_customer("cus_a") == a.id


async def test_a_charge_refund_claim_only_ever_adds_the_increase(uow_factory: UowFactory) -> None:
    user = await _user(uow_factory)
    async with uow_factory() as uow:
        claim = uow.credits.claim_charge_refund
        assert await claim("ch_1", user.id, refunded_cents=250, credits=2_500, now=T0) == 2_500
        assert await claim("ch_1", user.id, refunded_cents=250, credits=2_500, now=T0) == 0
        assert await claim("ch_1", user.id, refunded_cents=100, credits=1_000, now=T0) == 0
        assert await claim("ch_1", user.id, refunded_cents=500, credits=5_000, now=T0) == 2_500
        assert await claim("ch_2", user.id, refunded_cents=100, credits=1_000, now=T0) == 1_000
        await uow.commit()


async def test_concurrent_charge_refund_claims_add_up_to_the_largest(uow_factory: UowFactory) -> None:
    user = await _user(uow_factory)

    async def claim(credits: int) -> int:
        async with uow_factory() as uow:
            raised = await uow.credits.claim_charge_refund(
                "ch_many", user.id, refunded_cents=credits // 10, credits=credits, now=T0
            )
            await uow.commit()
            return raised

    raised = await asyncio.gather(*(claim(250 * n) for n in range(20, 0, -1)))
    assert sum(raised) == 5_000


async def test_taking_back_stops_at_the_available_balance_and_is_idempotent(uow_factory: UowFactory) -> None:
    user = await _user(uow_factory)
    async with uow_factory() as uow:
        await uow.credits.post(LedgerEntry(new_id(), user.id, EntryKind.GRANT, 300, 0, "g", T0))
        await uow.credits.post(LedgerEntry(new_id(), user.id, EntryKind.HOLD, -100, 100, "h", T0))
        back = LedgerEntry(new_id(), user.id, EntryKind.REFUND, -500, 0, "back", T0, reference="charge:ch")
        taken = await uow.credits.take_back(back)
        again = await uow.credits.take_back(dataclasses.replace(back, id=new_id()))
        nothing = await uow.credits.take_back(dataclasses.replace(back, id=new_id(), idempotency_key="more"))
        assert taken is not None
        assert (taken.available_delta, again) == (-200, taken)
        assert nothing is None
        assert await uow.credits.sum_entries(user.id) == (0, 100)
        account = await uow.credits.get_account(user.id)
        assert (account.available, account.held) == (0, 100)
