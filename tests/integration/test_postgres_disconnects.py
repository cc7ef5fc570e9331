"""A pooled PostgreSQL connection that died (database restart, failover) costs one retryable 503, not a 500,
and the pool heals itself: there is no pre-ping round trip on every checkout."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from asynccoder.adapters.sqlalchemy.database import create_engine
from asynccoder.adapters.sqlalchemy.uow import SqlAlchemyUnitOfWork
from asynccoder.domain.errors import Unavailable
from tests.support.builders import make_user
from tests.support.databases import Databases


@pytest.fixture
async def engine(databases: Databases) -> AsyncIterator[AsyncEngine]:
    await databases.clean_engine("postgres")
    engine = create_engine(databases.url("postgres"), pool_size=2)
    yield engine
    await engine.dispose()


async def _backend_pid(engine: AsyncEngine) -> int:
    async with SqlAlchemyUnitOfWork(engine) as uow:
        pid = (await uow.connection.execute(sa.text("SELECT pg_backend_pid()"))).scalar_one()
    return int(pid)


async def test_a_connection_killed_while_pooled_fails_once_as_unavailable_then_the_pool_heals(
    engine: AsyncEngine, databases: Databases
) -> None:
    user = make_user()
    async with SqlAlchemyUnitOfWork(engine) as uow:
        await uow.users.add(user)
        await uow.commit()
    pid = await _backend_pid(engine)  # the connection is back in the pool now
    other = create_engine(databases.url("postgres"), pool_size=1)
    try:
        async with other.connect() as conn:
            await conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        await other.dispose()

    with pytest.raises(Unavailable) as caught:
        async with SqlAlchemyUnitOfWork(engine) as uow:
            await uow.users.get(user.id)
    assert caught.value.code == "database_unavailable"
    assert caught.value.retry_after == 1

    async with SqlAlchemyUnitOfWork(engine) as uow:
        assert await uow.users.get(user.id) == user
    assert await _backend_pid(engine) != pid


async def test_a_statement_cancelled_mid_flight_stays_a_cancellation(engine: AsyncEngine) -> None:
    """Cancelling a task in the middle of a query (a heartbeat when its attempt ends) must not turn into an
    error: SQLAlchemy counts the interrupted connection as lost, but the cancellation is what propagates."""

    async def slow_query() -> None:
        async with SqlAlchemyUnitOfWork(engine) as uow:
            started.set()
            await uow.connection.execute(sa.text("SELECT pg_sleep(5)"))

    started = asyncio.Event()
    job = asyncio.ensure_future(slow_query())
    await started.wait()
    await asyncio.sleep(0.2)
    job.cancel()
    with pytest.raises(asyncio.CancelledError):
        await job
    async with SqlAlchemyUnitOfWork(engine) as uow:  # and the pool still serves
        assert (await uow.connection.execute(sa.text("SELECT 1"))).scalar_one() == 1
