"""Alembic environment: async engine, URL from the caller or from the environment."""

from __future__ import annotations

import os
from pathlib import Path

from alembic import context
from sqlalchemy.engine import Connection

from asynccoder.adapters.sqlalchemy.database import create_sync_engine, is_sqlite, parse_database_url
from asynccoder.adapters.sqlalchemy.schema import managed_by_alembic, metadata

config = context.config


def _database_url() -> str:
    url = config.attributes.get("database_url")
    if url:
        return str(url)
    # The plain `alembic` CLI: the same variables and embedded default the app uses.
    if env_url := os.environ.get("DATABASE_URL", "").strip():
        return env_url
    data_dir = Path(os.environ.get("ASYNCCODER_DATA_DIR", "data")).expanduser()
    return f"sqlite+aiosqlite:///{data_dir / 'asynccoder.db'}"


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        include_name=managed_by_alembic,
        render_as_batch=is_sqlite(connection.engine.url),
        compare_type=True,
        compare_server_default=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _run_online() -> None:
    # A blocking engine: migrations run from the CLI, from a worker thread at start-up, or from tests, and
    # none of them should depend on an event loop.
    engine = create_sync_engine(_database_url())
    try:
        with engine.connect() as conn:
            _run(conn)
            conn.commit()
    finally:
        engine.dispose()


def run_offline() -> None:
    url = parse_database_url(_database_url())
    context.configure(
        url=url, target_metadata=metadata, literal_binds=True, dialect_opts={"paramstyle": "named"}
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
    else:
        _run_online()
