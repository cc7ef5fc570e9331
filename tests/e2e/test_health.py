"""Health endpoints over HTTP."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tests.e2e.conftest import ClientFactory
from tests.support.app import make_settings
from tests.support.services import redis_url


async def test_live_answers_ok(client: AsyncTestClient[Any]) -> None:
    response = await client.get("/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_ready_answers_200_on_a_migrated_database(client: AsyncTestClient[Any]) -> None:
    response = await client.get("/health/ready")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert {c["name"] for c in body["components"]} == {"database", "migrations"}


async def test_ready_answers_503_naming_the_database_when_it_is_down(client_factory: ClientFactory) -> None:
    settings = make_settings(database_url="postgresql+psycopg://postgres@127.0.0.1:1/nowhere")
    async with client_factory(settings) as client:
        response = await client.get("/health/ready")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "not_ready"
    failing = {c["name"] for c in body["components"] if not c["healthy"]}
    assert "database" in failing
    assert "127.0.0.1:1" not in response.text


async def test_ready_answers_503_when_migrations_are_not_applied(
    client_factory: ClientFactory, tmp_path: Path
) -> None:
    settings = make_settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'unmigrated.db'}")
    async with client_factory(settings) as client:
        response = await client.get("/health/ready")
    assert response.status_code == 503
    failing = {c["name"] for c in response.json()["components"] if not c["healthy"]}
    assert failing == {"migrations"}


async def test_the_embedded_default_migrates_itself_on_start(
    client_factory: ClientFactory, tmp_path: Path
) -> None:
    settings = make_settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}", auto_migrate=True)
    async with client_factory(settings) as client:
        response = await client.get("/health/ready")
    assert response.status_code == 200


@pytest.mark.parametrize("reachable", [True, False])
async def test_ready_checks_redis_when_it_is_configured(
    client_factory: ClientFactory, tmp_path: Path, reachable: bool
) -> None:
    url = redis_url() if reachable else "redis://127.0.0.1:1/0"
    settings = make_settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'r.db'}", auto_migrate=True, redis_url=url
    )
    async with client_factory(settings) as client:
        response = await client.get("/health/ready")
    components = {c["name"]: c["healthy"] for c in response.json()["components"]}
    assert components["redis"] is reachable
    assert response.status_code == (200 if reachable else 503)
