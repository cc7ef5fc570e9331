"""Refunds of one charge on the in-memory adapters: each event takes back only the increase of the refunded
share, whatever order the (concurrent) deliveries run in."""

from __future__ import annotations

import asyncio
import random

import pytest

from asynccoder.adapters.memory.store import InMemoryStore
from asynccoder.adapters.memory.uow import InMemoryUnitOfWork
from asynccoder.adapters.stripe.memory_gateway import InMemoryPaymentGateway
from asynccoder.application.billing.stripe_events import HandleStripeEvent, HandleStripeEventInput
from tests.support.billing import (
    STARTER,
    WEBHOOK_SECRET,
    charge_refunded,
    checkout_completed,
    event,
    signature,
)
from tests.support.builders import T0, make_user
from tests.support.system import ManualClock, SequentialIdGenerator


def _signed(payload: bytes) -> HandleStripeEventInput:
    return HandleStripeEventInput(payload, signature(payload, timestamp=int(T0.timestamp())))


@pytest.mark.parametrize("seed", range(5))
async def test_twenty_concurrent_refund_events_take_back_the_purchase_once(seed: int) -> None:
    store, clock, ids = InMemoryStore(), ManualClock(T0), SequentialIdGenerator()
    handler = HandleStripeEvent(
        InMemoryUnitOfWork(store), InMemoryPaymentGateway(clock, WEBHOOK_SECRET), clock, ids
    )
    user = make_user()
    async with InMemoryUnitOfWork(store) as uow:
        await uow.users.add(user)
        await uow.commit()
    bought = checkout_completed("cs_m", str(user.id), str(STARTER.id), payment_intent="pi_m")
    await handler(
        _signed(event("evt_buy_m", "checkout.session.completed", bought, created=int(T0.timestamp())))
    )
    refunds = [
        _signed(
            event(f"evt_m{n}", "charge.refunded", charge_refunded("ch_m", "pi_m", 500, 25 * n), created=1)
        )
        for n in range(1, 21)
    ]
    random.Random(seed).shuffle(refunds)

    await asyncio.gather(
        *(
            HandleStripeEvent(
                InMemoryUnitOfWork(store), InMemoryPaymentGateway(clock, WEBHOOK_SECRET), clock, ids
            )(r)
            for r in refunds
        )
    )

    async with InMemoryUnitOfWork(store) as uow:
        account = await uow.credits.get_account(user.id)
        taken = [-e.available_delta for e in await uow.credits.entries_with_reference(user.id, "charge:ch_m")]
        assert await uow.credits.sum_entries(user.id) == (account.available, account.held)
    assert sum(taken) == STARTER.credits
    assert (account.available, account.held) == (0, 0)
