"""Readiness probes for the database."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from asynccoder.adapters.sqlalchemy.migrations_runner import current_revisions, head_revisions
from asynccoder.application.health.check_readiness import HealthProbe


class DatabaseProbe(HealthProbe):
    """Healthy when a trivial query succeeds."""

    name = "database"

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def check(self) -> str | None:
        async with self._engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))
        return None


class MigrationsProbe(HealthProbe):
    """Healthy when the database is at every migration head."""

    name = "migrations"

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def check(self) -> str | None:
        async with self._engine.connect() as conn:
            current = await conn.run_sync(current_revisions)
        missing = head_revisions() - current
        if missing:
            return "database schema is behind; run 'asynccoder migrate'"
        return None
