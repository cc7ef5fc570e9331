"""Read-only unit-of-work blocks: no SQLite write lock, no PostgreSQL transaction block, one checkout."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import QueuePool

from asynccoder.adapters.sqlalchemy.database import create_engine
from asynccoder.adapters.sqlalchemy.uow import SqlAlchemyUnitOfWork
from tests.support.builders import make_user
from tests.support.databases import Databases


def _checked_out(engine: AsyncEngine) -> int:
    pool = engine.sync_engine.pool
    assert isinstance(pool, QueuePool)
    return pool.checkedout()


async def test_consecutive_read_only_blocks_share_one_checkout_until_released(databases: Databases) -> None:
    engine = create_engine(databases.url("postgres"), pool_size=2)
    try:
        uow = SqlAlchemyUnitOfWork(engine)
        async with uow.read_only():
            first = uow.connection
            await uow.users.get(make_user().id)
        assert _checked_out(engine) == 1
        async with uow.read_only():
            assert uow.connection is first
            await uow.users.get_standing(make_user().id)
        await uow.release()
        assert _checked_out(engine) == 0
    finally:
        await engine.dispose()


async def test_a_write_block_returns_its_connection_on_exit(databases: Databases) -> None:
    engine = create_engine(databases.url("postgres"), pool_size=2)
    try:
        uow = SqlAlchemyUnitOfWork(engine)
        async with uow.read_only():
            await uow.users.get(make_user().id)
        async with uow:
            await uow.users.add(make_user())
            await uow.commit()
        assert _checked_out(engine) == 0
    finally:
        await engine.dispose()


async def test_a_read_only_block_on_postgresql_opens_no_transaction_block(
    postgres_engine: AsyncEngine,
) -> None:
    uow = SqlAlchemyUnitOfWork(postgres_engine)
    async with uow.read_only():
        await uow.users.get(make_user().id)
        raw = await uow.connection.get_raw_connection()
        # Idle, not "in transaction": no BEGIN was sent and no ROLLBACK will be.
        assert raw.driver_connection.info.transaction_status.name == "IDLE"
    await uow.release()
    async with uow:
        await uow.users.get(make_user().id)
        raw = await uow.connection.get_raw_connection()
        assert raw.driver_connection.info.transaction_status.name == "INTRANS"


async def test_a_read_only_block_on_sqlite_leaves_the_write_lock_free(databases: Databases) -> None:
    engine = await databases.clean_engine("sqlite")
    database = engine.url.database
    assert database
    uow = SqlAlchemyUnitOfWork(engine)
    async with uow.read_only():
        await uow.users.get(make_user().id)
        other = sqlite3.connect(database, timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")  # raises 'database is locked' if the read holds the write lock
            other.execute("ROLLBACK")
        finally:
            other.close()
    await uow.release()


async def test_a_write_block_on_sqlite_still_takes_the_write_lock_up_front(databases: Databases) -> None:
    engine = await databases.clean_engine("sqlite")
    database = engine.url.database
    assert database
    async with SqlAlchemyUnitOfWork(engine) as uow:
        await uow.users.get(make_user().id)
        other = sqlite3.connect(database, timeout=0, isolation_level=None)
        try:
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        finally:
            other.close()
