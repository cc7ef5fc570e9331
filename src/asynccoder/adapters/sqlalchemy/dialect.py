"""SQL that differs between SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection


def insert_on_conflict(conn: AsyncConnection, table: sa.Table) -> Any:
    """An INSERT for the connection's dialect that supports ``on_conflict_do_nothing/update``.

    Both dialects accept the same ``ON CONFLICT`` clauses, so callers write one statement for both.
    """
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)
