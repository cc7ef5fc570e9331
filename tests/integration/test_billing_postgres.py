"""Money under real concurrency on PostgreSQL: no overdraft, one grant per event, atomic dedupe."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from asynccoder.adapters.sqlalchemy.uow import SqlAlchemyUnitOfWork
from asynccoder.adapters.stripe.memory_gateway import InMemoryPaymentGateway
from asynccoder.adapters.system.clock import SystemClock
from asynccoder.adapters.system.ids import Uuid7Generator
from asynccoder.application.billing.credits import (
    GrantCredits,
    GrantCreditsInput,
    ReserveCredits,
    ReserveCreditsInput,
)
from asynccoder.application.billing.stripe_events import HandleStripeEvent, HandleStripeEventInput
from asynccoder.domain.billing import InsufficientCredits
from asynccoder.domain.identity import User
from tests.support.billing import (
    STARTER,
    WEBHOOK_SECRET,
    charge_refunded,
    checkout_completed,
    event,
    seed_catalogue,
    signature,
)
from tests.support.builders import make_user

clock = SystemClock()
ids = Uuid7Generator()


async def _user_with(engine: AsyncEngine, credits: int) -> User:
    user = make_user(id=ids.new_id())
    async with SqlAlchemyUnitOfWork(engine) as uow:
        await uow.users.add(user)
        await uow.commit()
    if credits:
        await GrantCredits(SqlAlchemyUnitOfWork(engine), clock, ids)(
            GrantCreditsInput(user.id, credits, "initial")
        )
    return user


async def _balance(engine: AsyncEngine, user: User) -> tuple[int, int, tuple[int, int]]:
    async with SqlAlchemyUnitOfWork(engine) as uow:
        account = await uow.credits.get_account(user.id)
        return account.available, account.held, await uow.credits.sum_entries(user.id)


async def test_fifty_concurrent_spends_of_ten_on_a_balance_of_one_hundred_succeed_exactly_ten_times(
    postgres_engine: AsyncEngine,
) -> None:
    user = await _user_with(postgres_engine, 100)

    async def spend(n: int) -> bool:
        try:
            await ReserveCredits(SqlAlchemyUnitOfWork(postgres_engine), clock, ids)(
                ReserveCreditsInput(user.id, 10, f"task:{n}")
            )
        except InsufficientCredits:
            return False
        return True

    results = await asyncio.gather(*(spend(n) for n in range(50)))
    assert sum(results) == 10
    assert await _balance(postgres_engine, user) == (0, 100, (0, 100))


async def test_concurrent_replays_of_one_reservation_hold_once(postgres_engine: AsyncEngine) -> None:
    user = await _user_with(postgres_engine, 100)

    async def reserve() -> Any:
        return await ReserveCredits(SqlAlchemyUnitOfWork(postgres_engine), clock, ids)(
            ReserveCreditsInput(user.id, 30, "task:same")
        )

    results = await asyncio.gather(*(reserve() for _ in range(20)))
    assert len({r.hold.id for r in results}) == 1
    assert sum(not r.replayed for r in results) == 1
    assert await _balance(postgres_engine, user) == (70, 30, (70, 30))


def _handler(engine: AsyncEngine, uow: SqlAlchemyUnitOfWork | None = None) -> HandleStripeEvent:
    gateway = InMemoryPaymentGateway(clock, WEBHOOK_SECRET)
    return HandleStripeEvent(uow or SqlAlchemyUnitOfWork(engine), gateway, clock, ids)


async def test_fifty_concurrent_deliveries_of_one_stripe_event_grant_once(
    postgres_engine: AsyncEngine,
) -> None:
    await seed_catalogue(lambda: SqlAlchemyUnitOfWork(postgres_engine))
    user = await _user_with(postgres_engine, 0)
    payload = event(
        "evt_many", "checkout.session.completed", checkout_completed("cs_1", str(user.id), str(STARTER.id))
    )
    header = signature(payload)

    results = await asyncio.gather(
        *(_handler(postgres_engine)(HandleStripeEventInput(payload, header)) for _ in range(50))
    )
    assert sum(not r.duplicate for r in results) == 1
    assert await _balance(postgres_engine, user) == (STARTER.credits, 0, (STARTER.credits, 0))


class _FailAfterDedupe(SqlAlchemyUnitOfWork):
    """Breaks the first ledger write after the event id was recorded, as a crash mid-handler would."""

    async def __aenter__(self) -> _FailAfterDedupe:
        await super().__aenter__()

        async def broken_post(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("database went away")

        self.credits.post = broken_post  # type: ignore[method-assign]
        return self


async def test_a_failure_after_the_dedupe_insert_rolls_back_both_so_a_redelivery_applies_once(
    postgres_engine: AsyncEngine,
) -> None:
    await seed_catalogue(lambda: SqlAlchemyUnitOfWork(postgres_engine))
    user = await _user_with(postgres_engine, 0)
    payload = event(
        "evt_crash", "checkout.session.completed", checkout_completed("cs_2", str(user.id), str(STARTER.id))
    )
    header = signature(payload)

    with pytest.raises(RuntimeError):
        await _handler(postgres_engine, _FailAfterDedupe(postgres_engine))(
            HandleStripeEventInput(payload, header)
        )
    async with postgres_engine.connect() as conn:
        assert await conn.scalar(sa.text("SELECT count(*) FROM stripe_events WHERE id = 'evt_crash'")) == 0
    assert await _balance(postgres_engine, user) == (0, 0, (0, 0))

    first = await _handler(postgres_engine)(HandleStripeEventInput(payload, header))
    second = await _handler(postgres_engine)(HandleStripeEventInput(payload, header))
    assert (first.duplicate, second.duplicate) == (False, True)
    assert await _balance(postgres_engine, user) == (STARTER.credits, 0, (STARTER.credits, 0))


@pytest.mark.parametrize(
    "statement",
    ["UPDATE credit_ledger SET available_delta = available_delta + 1", "DELETE FROM credit_ledger"],
    ids=["update", "delete"],
)
async def test_the_postgres_ledger_rejects_update_and_delete(
    postgres_engine: AsyncEngine, statement: str
) -> None:
    user = await _user_with(postgres_engine, 50)
    with pytest.raises(DBAPIError, match="append-only"):
        async with postgres_engine.begin() as conn:
            await conn.execute(sa.text(statement))
    assert await _balance(postgres_engine, user) == (50, 0, (50, 0))


async def test_the_database_refuses_a_negative_balance_even_without_the_application(
    postgres_engine: AsyncEngine,
) -> None:
    user = await _user_with(postgres_engine, 5)
    with pytest.raises(DBAPIError, match="available_non_negative"):
        async with postgres_engine.begin() as conn:
            await conn.execute(
                sa.text("UPDATE credit_accounts SET available = -1 WHERE user_id = :u"), {"u": user.id}
            )


# --- refunds (issue 15.1) -------------------------------------------------------------------------------


async def _buyer(engine: AsyncEngine, payment_intent: str, *, other_credits: int = 0) -> User:
    """A user who bought the Starter package (5,000 credits for 500 cents) through ``payment_intent``."""
    await seed_catalogue(lambda: SqlAlchemyUnitOfWork(engine))
    user = await _user_with(engine, other_credits)
    session = f"cs_{payment_intent}"
    payload = event(
        f"evt_buy_{payment_intent}",
        "checkout.session.completed",
        checkout_completed(session, str(user.id), str(STARTER.id), payment_intent=payment_intent),
    )
    await _handler(engine)(HandleStripeEventInput(payload, signature(payload)))
    return user


def _refund_delivery(charge: str, payment_intent: str, refunded: int, n: int) -> HandleStripeEventInput:
    payload = event(
        f"evt_refund_{charge}_{n}", "charge.refunded", charge_refunded(charge, payment_intent, 500, refunded)
    )
    return HandleStripeEventInput(payload, signature(payload))


async def _taken_back(engine: AsyncEngine, user: User, charge: str) -> list[int]:
    async with SqlAlchemyUnitOfWork(engine) as uow:
        return [
            -e.available_delta for e in await uow.credits.entries_with_reference(user.id, f"charge:{charge}")
        ]


@pytest.mark.parametrize("trial", range(10))
async def test_two_partial_refunds_delivered_together_take_back_the_refunded_share_once(
    postgres_engine: AsyncEngine, trial: int
) -> None:
    user = await _buyer(postgres_engine, f"pi_pair{trial}")
    deliveries = [_refund_delivery(f"ch_pair{trial}", f"pi_pair{trial}", r, r) for r in (250, 500)]

    await asyncio.gather(*(_handler(postgres_engine)(d) for d in deliveries))

    assert sum(await _taken_back(postgres_engine, user, f"ch_pair{trial}")) == STARTER.credits
    assert await _balance(postgres_engine, user) == (0, 0, (0, 0))


async def test_twenty_concurrent_refund_events_take_back_exactly_the_charges_credits(
    postgres_engine: AsyncEngine,
) -> None:
    user = await _buyer(postgres_engine, "pi_twenty", other_credits=20_000)
    # Stripe's amount_refunded is cumulative: 25, 50, ... 500 cents, delivered all at once in any order.
    deliveries = [_refund_delivery("ch_twenty", "pi_twenty", 25 * n, n) for n in range(20, 0, -1)]

    results = await asyncio.gather(*(_handler(postgres_engine)(d) for d in deliveries))

    taken = await _taken_back(postgres_engine, user, "ch_twenty")
    assert all(not r.duplicate for r in results)
    assert sum(taken) == STARTER.credits
    assert all(amount > 0 for amount in taken)
    assert await _balance(postgres_engine, user) == (20_000, 0, (20_000, 0))


async def test_refunds_racing_with_spending_never_refuse_stripe_and_never_overdraw(
    postgres_engine: AsyncEngine,
) -> None:
    user = await _buyer(postgres_engine, "pi_race")

    async def spend(n: int) -> None:
        with contextlib.suppress(InsufficientCredits):
            await ReserveCredits(SqlAlchemyUnitOfWork(postgres_engine), clock, ids)(
                ReserveCreditsInput(user.id, 400, f"task:race:{n}")
            )

    refunds = [
        _handler(postgres_engine)(_refund_delivery("ch_race", "pi_race", 50 * n, n)) for n in range(1, 11)
    ]
    # Every delivery is acknowledged: a refund that meets spent credits takes back what is left, no 402.
    await asyncio.gather(*refunds, *(spend(n) for n in range(10)))

    available, held, ledger = await _balance(postgres_engine, user)
    assert ledger == (available, held)
    assert available >= 0
    assert sum(await _taken_back(postgres_engine, user, "ch_race")) + held + available == STARTER.credits
