"""Alembic migrations: up to head and back down on both databases, and no drift from the table definitions."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from asynccoder.adapters.sqlalchemy import migrations_runner
from asynccoder.adapters.sqlalchemy.database import create_sync_engine
from asynccoder.adapters.sqlalchemy.schema import managed_by_alembic, metadata
from tests.support.services import scratch_postgres_database


@pytest.fixture(params=["sqlite", "postgres"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'migrations.db'}"
    else:
        with scratch_postgres_database("asynccoder_migrations") as url:
            yield url


def _tables(url: str) -> set[str]:
    engine = create_sync_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def _drift(url: str) -> list[object]:
    engine = create_sync_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn,
                opts={
                    "compare_type": True,
                    "compare_server_default": True,
                    "include_name": managed_by_alembic,
                },
            )
            return list(compare_metadata(context, metadata))
    finally:
        engine.dispose()


def test_upgrade_to_head_creates_every_table_and_downgrade_removes_them(empty_database: str) -> None:
    migrations_runner.upgrade(empty_database)
    assert set(metadata.tables) <= _tables(empty_database)

    migrations_runner.downgrade(empty_database)
    assert _tables(empty_database) <= {"alembic_version"}


def test_the_migrations_match_the_table_definitions(empty_database: str) -> None:
    migrations_runner.upgrade(empty_database)
    assert _drift(empty_database) == []


def test_each_migration_downgrades_and_upgrades_again(empty_database: str) -> None:
    """The stairway: for every revision from the base up, apply it, undo it, apply it again."""
    script = ScriptDirectory(str(migrations_runner.MIGRATIONS_DIR))
    for revision in reversed(list(script.walk_revisions())):
        migrations_runner.upgrade(empty_database, revision.revision)
        parent = revision.down_revision
        if parent is None or isinstance(parent, str):
            # Downgrading to the parent also undoes sibling branches above it; upgrading R re-applies only
            # R's own chain, which is what the stairway is about.
            migrations_runner.downgrade(empty_database, parent or "base")
            migrations_runner.upgrade(empty_database, revision.revision)
    migrations_runner.upgrade(empty_database, "heads")
    assert set(metadata.tables) <= _tables(empty_database)


def test_the_migrations_have_a_single_head() -> None:
    """Parallel branches are merged, so the next migration has one parent."""
    script = ScriptDirectory(str(migrations_runner.MIGRATIONS_DIR))
    assert len(script.get_heads()) == 1
