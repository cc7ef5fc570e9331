"""The composition root wires every port and closes what it opened."""

from __future__ import annotations

from dishka import Provider, Scope, provide
from sqlalchemy.ext.asyncio import AsyncEngine

from asynccoder.adapters.memory.uow import InMemoryUnitOfWork
from asynccoder.adapters.sqlalchemy.uow import SqlAlchemyUnitOfWork
from asynccoder.application.health.check_readiness import CheckReadiness
from asynccoder.application.ports.system import (
    Clock,
    IdGenerator,
)
from asynccoder.application.ports.uow import UnitOfWork
from asynccoder.ioc.core import (
    InMemoryPersistenceProvider,
    make_container,
)
from tests.support.app import make_settings
from tests.support.databases import Databases
from tests.support.system import ManualClock


async def test_the_default_container_resolves_every_core_port(databases: Databases) -> None:
    container = make_container(make_settings(database_url=databases.url("sqlite")))
    try:
        assert (await container.get(Clock)).now().tzinfo is not None
        assert (await container.get(IdGenerator)).new_id().version == 7
        readiness = await (await container.get(CheckReadiness))()
        assert readiness.ready
        async with container() as request:
            assert isinstance(await request.get(UnitOfWork), SqlAlchemyUnitOfWork)
    finally:
        await container.close()


async def test_overrides_replace_the_default_adapters() -> None:
    clock = ManualClock()

    class FixedTime(Provider):
        @provide(scope=Scope.APP)
        def clock(self) -> Clock:
            return clock

    container = make_container(make_settings(), InMemoryPersistenceProvider(), FixedTime())
    try:
        assert await container.get(Clock) is clock
        async with container() as request:
            assert isinstance(await request.get(UnitOfWork), InMemoryUnitOfWork)
    finally:
        await container.close()


async def test_closing_the_container_disposes_the_engine(databases: Databases) -> None:
    container = make_container(make_settings(database_url=databases.url("sqlite")))
    engine = await container.get(AsyncEngine)
    async with engine.connect():
        pass
    assert engine.pool.checkedin() == 1
    await container.close()
    assert engine.pool.checkedin() == 0
