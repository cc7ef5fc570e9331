"""The complete schema: importing this module registers every table on ``metadata``.

Feature table modules define their tables on ``tables.metadata``; each is imported here so that Alembic's
autogenerate and the drift test see all of them. Add one import per feature module.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from asynccoder.adapters.sqlalchemy import (
    ai_tables,
    billing_tables,
    code_hosting_tables,
    identity_tables,
    tables,
    tasks_tables,
    webhook_endpoints_tables,
)
from asynccoder.adapters.sqlalchemy.tables import metadata

__all__ = [
    "ai_tables",
    "billing_tables",
    "code_hosting_tables",
    "identity_tables",
    "metadata",
    "tables",
    "tasks_tables",
    "webhook_endpoints_tables",
]


def managed_by_alembic(name: str | None, type_: str, parent_names: Mapping[Any, str | None]) -> bool:
    """Autogenerate's ``include_name``: our tables only; procrastinate owns its ``procrastinate_*`` schema
    (installed by migration 0016_procrastinate on PostgreSQL)."""
    table = name if type_ == "table" else parent_names.get("table_name")
    return not (table or "").startswith("procrastinate_")
