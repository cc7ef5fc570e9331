"""Database errors never carry the statement's values, and a NUL in text is the caller's error."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from asynccoder.adapters.sqlalchemy.database import create_engine
from asynccoder.adapters.sqlalchemy.uow import SqlAlchemyUnitOfWork
from asynccoder.domain.errors import InvalidInput, Unavailable
from tests.support.databases import Databases

CANARY = "canary-4711@example.com"


async def test_a_failing_statement_does_not_show_its_parameters(engine: AsyncEngine) -> None:
    with pytest.raises(sa.exc.DBAPIError) as caught:
        async with engine.connect() as conn:
            statement = sa.text("INSERT INTO no_such_table (email) VALUES (:email)")
            await conn.execute(statement, {"email": CANARY})
    assert "no_such_table" in str(caught.value)
    assert CANARY not in str(caught.value)
    assert CANARY not in repr(caught.value)


async def test_a_nul_in_text_for_postgresql_is_invalid_input(postgres_engine: AsyncEngine) -> None:
    with pytest.raises(InvalidInput) as caught:
        async with postgres_engine.connect() as conn:
            await conn.execute(sa.text("SELECT CAST(:v AS TEXT)"), {"v": "a\x00" + CANARY})
    assert caught.value.code == "invalid_text"
    assert CANARY not in str(caught.value)


async def test_an_exhausted_pool_fails_fast_as_unavailable_with_a_retry_hint(databases: Databases) -> None:
    engine = create_engine(databases.url("postgres"), pool_size=1, pool_timeout=0.2)  # 1 + 1 overflow
    try:
        async with engine.connect(), engine.connect():
            with pytest.raises(Unavailable) as caught:
                async with SqlAlchemyUnitOfWork(engine):
                    pass
        assert caught.value.code == "database_busy"
        assert caught.value.retry_after == 1
        async with SqlAlchemyUnitOfWork(engine):  # recovers as soon as a connection is free
            pass
    finally:
        await engine.dispose()
