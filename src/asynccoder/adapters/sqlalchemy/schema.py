"""The complete schema: importing this module registers every table on ``metadata``.

Feature table modules define their tables on ``tables.metadata``; each is imported here so that Alembic's
autogenerate and the drift test see all of them. Add one import per feature module.
"""

from __future__ import annotations

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
