"""The operational levels (queue depth and age, outstanding holds) read the same on memory, SQLite and
PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from asynccoder.adapters.memory.metrics import InMemoryOperationsGauges
from asynccoder.adapters.memory.store import InMemoryStore
from asynccoder.adapters.memory.uow import InMemoryUnitOfWork
from asynccoder.adapters.sqlalchemy.operations import SqlAlchemyOperationsGauges
from asynccoder.adapters.sqlalchemy.uow import SqlAlchemyUnitOfWork
from asynccoder.application.ports.metrics import OperationsGauges, OperationsSnapshot
from asynccoder.application.ports.uow import UnitOfWork
from asynccoder.domain.billing import CreditHold, EntryKind, HoldStatus, LedgerEntry
from asynccoder.domain.tasks import TaskStatus
from tests.support.builders import T0, new_id
from tests.support.databases import Databases
from tests.support.tasks import make_task, seed_owner

Backend = tuple[Callable[[], UnitOfWork], OperationsGauges]


@pytest.fixture(params=["memory", "sqlite", "postgres"])
async def backend(request: pytest.FixtureRequest, databases: Databases) -> Backend:
    if request.param == "memory":
        store = InMemoryStore()
        return (lambda: InMemoryUnitOfWork(store)), InMemoryOperationsGauges(store)
    engine = await databases.clean_engine(request.param)
    return (lambda: SqlAlchemyUnitOfWork(engine)), SqlAlchemyOperationsGauges(engine)


async def test_an_empty_platform_has_no_queue_and_no_holds(backend: Backend) -> None:
    _, gauges = backend
    assert await gauges.snapshot() == OperationsSnapshot(0, None, 0, 0)


async def test_only_queued_tasks_count_and_the_oldest_is_the_first_submitted(backend: Backend) -> None:
    new_uow, gauges = backend
    (user,), (repo,) = await seed_owner(new_uow)
    oldest = T0 + timedelta(minutes=1)
    tasks = [
        make_task(user.id, repo.id, created_at=oldest + timedelta(minutes=2)),
        make_task(user.id, repo.id, created_at=oldest),
        make_task(user.id, repo.id, created_at=T0, status=TaskStatus.SUCCEEDED),
        make_task(user.id, repo.id, created_at=T0, status=TaskStatus.CANCELLED),
    ]
    async with new_uow() as uow:
        for task in tasks:
            await uow.tasks.add(task)
        await uow.commit()
    snapshot = await gauges.snapshot()
    assert (snapshot.queued_tasks, snapshot.oldest_queued_at) == (2, oldest)


async def test_only_active_holds_count_with_the_credits_they_reserve(backend: Backend) -> None:
    new_uow, gauges = backend
    (user,), _ = await seed_owner(new_uow, repositories=0)
    later = T0 + timedelta(hours=1)
    holds = [
        CreditHold(new_id(), user.id, 30, HoldStatus.ACTIVE, later, T0, T0),
        CreditHold(new_id(), user.id, 12, HoldStatus.ACTIVE, later, T0, T0),
        CreditHold(new_id(), user.id, 50, HoldStatus.ACTIVE, later, T0, T0),
    ]
    async with new_uow() as uow:
        await uow.credits.post(LedgerEntry(new_id(), user.id, EntryKind.GRANT, 1_000, 0, "g", T0))
        for hold in holds:
            await uow.credits.add_hold(hold)
        await uow.credits.finish_hold(holds[2].id, HoldStatus.RELEASED, T0)
        await uow.commit()
    snapshot = await gauges.snapshot()
    assert (snapshot.active_holds, snapshot.held_credits) == (2, 42)
