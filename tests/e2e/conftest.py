"""End-to-end fixtures: the whole app over HTTP through Litestar's test client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from litestar.types import ControllerRouterHandler

from asynccoder.entrypoints.http.app import create_app
from asynccoder.ioc.settings import Settings
from tests.support.app import make_settings
from tests.support.databases import SQL_BACKENDS, Databases

ClientFactory = Callable[..., AbstractAsyncContextManager[AsyncTestClient[Any]]]


@pytest.fixture
def client_factory() -> ClientFactory:
    @asynccontextmanager
    async def factory(
        settings: Settings, extra_route_handlers: Sequence[ControllerRouterHandler] = ()
    ) -> AsyncIterator[AsyncTestClient[Any]]:
        app = create_app(settings, extra_route_handlers=extra_route_handlers)
        async with AsyncTestClient(app, base_url="http://testserver.local") as client:
            yield client

    return factory


@pytest.fixture(params=SQL_BACKENDS)
async def backend_settings(request: pytest.FixtureRequest, databases: Databases) -> Settings:
    """Settings on a clean, migrated database of each SQL backend."""
    await databases.clean_engine(request.param)
    return make_settings(database_url=databases.url(request.param))


@pytest.fixture
async def client(
    client_factory: ClientFactory, backend_settings: Settings
) -> AsyncIterator[AsyncTestClient[Any]]:
    async with client_factory(backend_settings) as client:
        yield client
