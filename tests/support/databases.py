"""Migrated databases for tests: one per backend per test session, created on first use, cleaned per test."""

from __future__ import annotations

import contextlib
from pathlib import Path

import anyio.to_thread
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from asynccoder.adapters.sqlalchemy import migrations_runner
from asynccoder.adapters.sqlalchemy.database import create_engine
from asynccoder.adapters.sqlalchemy.schema import metadata
from tests.support.services import scratch_postgres_database

SQL_BACKENDS = ("sqlite", "postgres")


async def truncate_all(engine: AsyncEngine) -> None:
    """Empty every application table except ``alembic_version`` and ``info["reference_data"]`` tables."""
    tables = [t.name for t in reversed(metadata.sorted_tables) if not t.info.get("reference_data")]
    async with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            if tables:
                names = ", ".join(f'"{t}"' for t in tables)
                await conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                await conn.execute(sa.text(f'DELETE FROM "{table}"'))


class Databases:
    """Lazily creates, migrates and finally drops the session's databases."""

    def __init__(self, tmp_dir: Path) -> None:
        self._tmp_dir = tmp_dir
        self._urls: dict[str, str] = {}
        self._engines: dict[str, AsyncEngine] = {}
        self._stack = contextlib.ExitStack()

    def url(self, backend: str) -> str:
        """The migrated database URL for ``backend`` (blocking on first use)."""
        if backend not in self._urls:
            if backend == "sqlite":
                url = f"sqlite+aiosqlite:///{self._tmp_dir / 'session.db'}"
            elif backend == "postgres":
                url = self._stack.enter_context(scratch_postgres_database())
            else:
                raise ValueError(backend)
            migrations_runner.upgrade(url)
            self._urls[backend] = url
        return self._urls[backend]

    async def engine(self, backend: str) -> AsyncEngine:
        if backend not in self._engines:
            url = await anyio.to_thread.run_sync(self.url, backend)
            self._engines[backend] = create_engine(url, pool_size=20, pool_timeout=30)
        return self._engines[backend]

    async def clean_engine(self, backend: str) -> AsyncEngine:
        engine = await self.engine(backend)
        await truncate_all(engine)
        return engine

    async def aclose(self) -> None:
        for engine in self._engines.values():
            await engine.dispose()
        self._engines.clear()
        self._stack.close()
