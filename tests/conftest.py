"""Fixtures shared by every tier."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.support.databases import SQL_BACKENDS, Databases

# Tests never read the developer's real environment for settings.
for _name in ("DATABASE_URL", "REDIS_URL", "ASYNCCODER_ENV", "JWT_SECRET", "ENCRYPTION_KEYS"):
    os.environ.pop(_name, None)


@pytest.fixture(scope="session")
async def databases(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Databases]:
    dbs = Databases(tmp_path_factory.mktemp("databases"))
    yield dbs
    await dbs.aclose()


@pytest.fixture(params=SQL_BACKENDS)
async def engine(request: pytest.FixtureRequest, databases: Databases) -> AsyncEngine:
    """A clean, migrated engine on each SQL backend."""
    return await databases.clean_engine(request.param)


@pytest.fixture
async def postgres_engine(databases: Databases) -> AsyncEngine:
    """A clean, migrated PostgreSQL engine (for concurrency tests)."""
    return await databases.clean_engine("postgres")
