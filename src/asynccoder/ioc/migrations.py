"""Schema migrations as the entrypoints see them."""

from __future__ import annotations

from asynccoder.adapters.sqlalchemy import migrations_runner
from asynccoder.ioc.settings import Settings


def migrate_to_head(settings: Settings) -> None:
    """Upgrade the configured database to every migration head. Blocking."""
    migrations_runner.upgrade(settings.database_url)


def migrate_to_base(settings: Settings) -> None:
    migrations_runner.downgrade(settings.database_url)
