"""Access to the real PostgreSQL and Redis servers for tests.

Unreachable services skip their tests on a developer machine but fail them in CI (``CI=true``), so a green CI
run always means the PostgreSQL and Redis tests ran.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest
from sqlalchemy.engine import make_url

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def unavailable(what: str, why: str) -> None:
    message = f"{what} is not reachable ({why})"
    if in_ci():
        pytest.fail(message + " and CI=true requires it", pytrace=False)
    pytest.skip(message)


def postgres_admin_url() -> str:
    return os.environ.get("ASYNCCODER_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)


def redis_url() -> str:
    return os.environ.get("ASYNCCODER_TEST_REDIS_URL", DEFAULT_REDIS_URL)


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@contextmanager
def scratch_postgres_database(prefix: str = "asynccoder_test") -> Iterator[str]:
    """Create a uniquely named database, yield its SQLAlchemy URL, drop it afterwards."""
    admin = postgres_admin_url()
    try:
        conn = psycopg.connect(_libpq(admin), autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        unavailable("PostgreSQL", str(exc).splitlines()[0])
        raise  # unreachable: unavailable() always raises
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(admin).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(_libpq(admin), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
