"""Contract tests run every port's suite against every adapter of that port."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from asynccoder.adapters.memory.store import InMemoryStore
from asynccoder.adapters.memory.uow import InMemoryUnitOfWork
from asynccoder.adapters.sqlalchemy.uow import SqlAlchemyUnitOfWork
from asynccoder.application.ports.uow import UnitOfWork
from tests.support.databases import Databases

UowFactory = Callable[[], UnitOfWork]


@pytest.fixture(params=["memory", "sqlite", "postgres"])
async def uow_factory(request: pytest.FixtureRequest, databases: Databases) -> UowFactory:
    """Makes fresh units of work over one clean store of the parametrized backend."""
    if request.param == "memory":
        store = InMemoryStore()
        return lambda: InMemoryUnitOfWork(store)
    engine = await databases.clean_engine(request.param)
    return lambda: SqlAlchemyUnitOfWork(engine)
