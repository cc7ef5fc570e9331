"""A storm of bad requests against a real server process: every answer is a 4xx, nothing is rendered as a
traceback, and the server answers its liveness probe as soon as the storm stops."""

from __future__ import annotations

import asyncio
import json
import socket
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.live_server import LiveServer, start_server

CANARY = "sk-ant-FLOOD-CANARY-0123456789abcdef"
CLIENTS = 48
REQUESTS_PER_CLIENT = 25


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[LiveServer, Path]]:
    log = tmp_path / "server.log"
    # The access log at INFO (the storm must be in it) and the rate limits as in production.
    live = start_server(tmp_path / "data", {"LOG_LEVEL": "INFO", "RATE_LIMIT_ENABLED": "true"}, log=log)
    try:
        live.wait_ready()
        yield live, log
    finally:
        live.stop()


def _bad_requests(n: int) -> list[tuple[str, str, dict[str, str], bytes]]:
    nested = b"[" * 5_000 + b"]" * 5_000
    kinds = [
        ("GET", "/api/v1/users/profile", {"Authorization": f"Bearer {CANARY}"}, b""),
        ("POST", "/api/v1/auth/login", {"Content-Type": "application/json"}, b'{"email": '),
        ("POST", "/api/v1/auth/login", {"Content-Type": "application/json"}, nested),
        (
            "POST",
            "/api/v1/auth/register",
            {"Content-Type": "application/json"},
            json.dumps({"email": "not-an-email", "password": CANARY, "display_name": "x"}).encode(),
        ),
        ("GET", "/api/v1/tasks/not-a-task-id", {"Authorization": "Bearer nope"}, b""),
        ("GET", "/no/such/route", {}, b""),
        (
            "POST",
            "/api/v1/api-keys",
            {"Authorization": "Basic Zm9vOmJhcg=="},
            json.dumps({"key": CANARY}).encode(),
        ),
    ]
    return [kinds[i % len(kinds)] for i in range(n)]


def _half_sent_body(url: str) -> None:
    """A client that announces a body and goes away in the middle of it."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(
            b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000\r\n\r\n" + b'{"email": "ada@exa'
        )


async def test_an_error_storm_gets_only_4xx_leaks_nothing_and_the_server_recovers_at_once(
    server: tuple[LiveServer, Path],
) -> None:
    live, log = server
    statuses: Counter[int] = Counter()

    async def client() -> None:
        async with httpx.AsyncClient(base_url=live.url, timeout=30) as http:
            for method, path, headers, body in _bad_requests(REQUESTS_PER_CLIENT):
                response = await http.request(method, path, headers=headers, content=body)
                statuses[response.status_code] += 1

    loop = asyncio.get_running_loop()
    disconnects = [loop.run_in_executor(None, _half_sent_body, live.url) for _ in range(20)]
    await asyncio.gather(*(client() for _ in range(CLIENTS)), *disconnects)

    assert sum(statuses.values()) == CLIENTS * REQUESTS_PER_CLIENT
    assert all(400 <= status < 500 for status in statuses), statuses
    async with httpx.AsyncClient(base_url=live.url, timeout=5) as http:
        assert (await http.get("/health/live")).status_code == 200
        assert (await http.get("/health/ready")).status_code == 200

    live.stop()
    output = log.read_text(errors="replace")
    assert "status=4" in output or '"status": 4' in output  # the access log did record the storm
    assert "Traceback" not in output
    assert "status=500" not in output
    assert '"status": 500' not in output
    assert CANARY not in output
