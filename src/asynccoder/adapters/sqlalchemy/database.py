"""Engine creation for the two supported databases: SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy import create_engine as create_sync_engine_
from sqlalchemy.engine import URL, ExceptionContext, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from asynccoder.domain.errors import InvalidInput, Unavailable

SUPPORTED_DRIVERS = ("sqlite+aiosqlite", "postgresql+psycopg")

# Execution option marking a connection that serves read-only unit-of-work blocks.
READ_ONLY_OPTION = "asynccoder_read_only"


def parse_database_url(raw: str) -> URL:
    """Parse ``raw`` and check the driver is supported; ``ValueError`` says what is wrong (no secrets)."""
    try:
        url = make_url(raw)
    except Exception as exc:
        raise ValueError("is not a valid database URL") from exc
    if url.drivername == "postgresql" or url.drivername == "postgres":
        url = url.set(drivername="postgresql+psycopg")
    if url.drivername == "sqlite":
        url = url.set(drivername="sqlite+aiosqlite")
    if url.drivername not in SUPPORTED_DRIVERS:
        raise ValueError(f"uses driver {url.drivername!r}; supported: {', '.join(SUPPORTED_DRIVERS)}")
    return url


def is_sqlite(url: URL) -> bool:
    return url.get_backend_name() == "sqlite"


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # The driver's own transaction handling is switched off so that ``_on_sqlite_begin`` decides how a
    # transaction starts. Foreign keys are off by default in SQLite; WAL lets readers proceed during a write;
    # the busy timeout turns lock contention into a wait instead of an error.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _on_sqlite_begin(connection: Any) -> None:
    # BEGIN IMMEDIATE takes the write lock up front: two transactions can then never deadlock upgrading a
    # read lock, so conditional single-statement updates stay correct under concurrency. SQLite allows one
    # writer at a time anyway; the embedded default trades write concurrency for correctness. A read-only
    # block never writes, so a deferred BEGIN (a snapshot, no lock) serves it and readers never queue behind
    # writers or each other.
    if connection.get_execution_options().get(READ_ONLY_OPTION):
        connection.exec_driver_sql("BEGIN")
    else:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _translate_postgres_errors(context: ExceptionContext) -> None:
    """Bad text is the caller's mistake (400); a lost or refused connection is a retryable 503.

    There is no pre-ping on checkout (it cost a round trip per request, ~13 % of throughput): a connection
    that died while pooled (a database restart, a failover) fails the statement that finds out, SQLAlchemy
    then invalidates the whole pool so the next checkout connects afresh, and the client is told to come
    back."""
    _refuse_nul_text(context)
    # A cancelled or interrupted statement (``CancelledError``, ``KeyboardInterrupt``) also counts as a
    # disconnect; it must stay what it is, or cancellation would turn into an error.
    if context.is_disconnect and isinstance(context.original_exception, Exception):
        raise Unavailable(
            "The database connection was lost; try again.", code="database_unavailable", retry_after=1
        )


def _refuse_nul_text(context: ExceptionContext) -> None:
    # psycopg refuses to send a str holding U+0000 (PostgreSQL text cannot store it): that is bad input from
    # the caller, whichever route or command it came through, not a server error.
    if "cannot contain NUL" in str(context.original_exception):
        raise InvalidInput("Text may not contain NUL characters (U+0000).", code="invalid_text")


def create_engine(
    raw_url: str, *, echo: bool = False, pool_size: int = 10, pool_timeout: float = 5.0
) -> AsyncEngine:
    """Create the async engine for ``raw_url``; SQLite files get their directory created.

    ``pool_timeout``: how long a request waits for a free PostgreSQL connection before it fails (503 through
    the unit of work) instead of queueing behind an overload for SQLAlchemy's default 30 s."""
    url = parse_database_url(raw_url)
    if is_sqlite(url):
        database = url.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        # ``hide_parameters``: a failing statement's values (e-mails, digests) never reach an error or log.
        engine = create_async_engine(url, echo=echo, hide_parameters=True)
        event.listen(engine.sync_engine, "connect", _on_sqlite_connect)
        event.listen(engine.sync_engine, "begin", _on_sqlite_begin)
        return engine
    engine = create_async_engine(
        url,
        echo=echo,
        hide_parameters=True,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_timeout=pool_timeout,
        pool_recycle=1800,
    )
    event.listen(engine.sync_engine, "handle_error", _translate_postgres_errors)
    return engine


def create_sync_engine(raw_url: str) -> Engine:
    """A blocking engine on the same database, for migrations (no event loop involved)."""
    url = parse_database_url(raw_url)
    if is_sqlite(url):
        url = url.set(drivername="sqlite")
        database = url.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_sync_engine_(url, hide_parameters=True)
        event.listen(engine, "connect", _on_sqlite_connect)
        event.listen(engine, "begin", _on_sqlite_begin)
        return engine
    return create_sync_engine_(url, pool_pre_ping=True, hide_parameters=True)
