"""Readiness probes for the database."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from asynccoder.adapters.sqlalchemy.migrations_runner import head_revisions
from asynccoder.application.ports.system import HealthProbe


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
        # Reading the table directly (not through Alembic) keeps probes quiet and cheap. Connection failures
        # propagate (the database probe names them); only a missing table means "not migrated".
        async with self._engine.connect() as conn:
            try:
                rows = await conn.execute(sa.text("SELECT version_num FROM alembic_version"))
            except (sa.exc.ProgrammingError, sa.exc.OperationalError):
                return "database schema is missing; run 'asynccoder migrate'"
            current = frozenset(str(row[0]) for row in rows)
        missing = head_revisions() - current
        if missing:
            return "database schema is behind; run 'asynccoder migrate'"
        return None
