"""Running Alembic migrations programmatically: the CLI, the embedded self-migration and tests."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alembic.config import Config

# Alembic is imported by the functions that use it: the app's readiness probe and every CLI command import
# this module, and most of them never migrate.
MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def alembic_config(database_url: str) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # env.py reads the URL from here; it is never written into an ini file.
    config.attributes["database_url"] = database_url
    return config


@cache
def head_revisions() -> frozenset[str]:
    from alembic.script import ScriptDirectory

    return frozenset(ScriptDirectory(str(MIGRATIONS_DIR)).get_heads())


def upgrade(database_url: str, revision: str = "heads") -> None:
    """Upgrade to ``revision`` (every head by default). Blocking: run it in a thread from async code."""
    from alembic import command

    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str = "base") -> None:
    from alembic import command

    command.downgrade(alembic_config(database_url), revision)
