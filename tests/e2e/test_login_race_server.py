"""The login throttle against real concurrency: 50 simultaneous logins to a real server process."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.identity_support import PASSWORD
from tests.support.live_server import LiveServer, start_server


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    live = start_server(
        tmp_path / "data",
        {
            "PASSWORD_HASH_MEMORY_KIB": "64",
            "PASSWORD_HASH_TIME_COST": "1",
            "LOGIN_MAX_FAILURES_PER_ACCOUNT": "5",
        },
    )
    live.wait_ready()
    yield live
    live.stop()


@pytest.mark.slow
async def test_fifty_concurrent_logins_from_one_address_are_checked_at_most_the_limit(
    server: LiveServer,
) -> None:
    limits = httpx.Limits(max_connections=50, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=server.url, timeout=60, limits=limits) as client:
        registered = await client.post(
            "/api/v1/auth/register", json={"email": "ada@example.com", "password": PASSWORD}
        )
        assert registered.status_code == 202
        passwords = ["wrong password!"] * 49 + [PASSWORD]  # the right one last, as the attacker would hope
        responses = await asyncio.gather(
            *(
                client.post("/api/v1/auth/login", json={"email": "ada@example.com", "password": p})
                for p in passwords
            )
        )
    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {200, 401, 429}, statuses
    assert len([s for s in statuses if s in (200, 401)]) <= 5, statuses  # the per account + address limit
    assert statuses.count(429) >= 45
