"""Memory under anonymous load: password hashing and large bodies are bounded, overload is a fast 503.

The server-process tests measure the resident memory of a real server (production argon2 parameters)
during a burst and check it stays within a generous bound; without the bounds the same bursts grew it by
several hundred MiB.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from asynccoder.entrypoints.http.load_shedding import large_body_middleware
from tests.support.live_server import LiveServer, start_server

MIB = 1024 * 1024
WEBHOOK_SECRET = "memory-test-webhook-secret"


def _scope(headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {"type": "http", "method": "POST", "path": "/api/v1/webhooks/github", "headers": headers}


async def test_a_large_body_beyond_the_limit_gets_503_without_reaching_the_app() -> None:
    release = asyncio.Event()
    reads = 0

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def receive() -> dict[str, Any]:
        nonlocal reads
        reads += 1
        return {"type": "http.request", "body": b"", "more_body": False}

    sent: list[list[dict[str, Any]]] = [[], [], [], []]

    def sender(n: int) -> Any:
        async def send(message: dict[str, Any]) -> None:
            sent[n].append(message)

        return send

    guarded = large_body_middleware(app, threshold=1024, limit=1)
    big = [(b"content-length", b"25000000")]
    chunked = [(b"transfer-encoding", b"chunked")]
    small = [(b"content-length", b"10")]
    first = asyncio.create_task(guarded(_scope(big), receive, sender(0)))  # type: ignore[arg-type]
    await asyncio.sleep(0)
    await guarded(_scope(big), receive, sender(1))  # type: ignore[arg-type]
    await guarded(_scope(chunked), receive, sender(2))  # type: ignore[arg-type]
    small_request = asyncio.create_task(guarded(_scope(small), receive, sender(3)))  # type: ignore[arg-type]
    await asyncio.sleep(0)
    release.set()
    await asyncio.gather(first, small_request)

    for refused in (sent[1], sent[2]):
        start, body = refused
        assert start["status"] == 503
        headers = dict(start["headers"])
        assert headers[b"retry-after"] == b"1"
        assert headers[b"content-type"] == b"application/problem+json"
        assert json.loads(body["body"])["code"] == "server_busy"
    assert reads == 2  # each refused body was drained (one chunk each here), never handed to the app
    assert sent[0][0]["status"] == 200
    assert sent[3][0]["status"] == 200  # small bodies are never held back


def _rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


class PeakRss:
    """Samples a process's resident memory in a thread until stopped; ``peak`` is the largest seen."""

    def __init__(self, pid: int) -> None:
        self._pid = pid
        self.peak = _rss_bytes(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, _rss_bytes(self._pid))

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss_bytes(self._pid))


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    # Production argon2 parameters (19 MiB a hash): the point is their memory.
    live = start_server(tmp_path / "data", {"GITHUB_WEBHOOK_SECRET": WEBHOOK_SECRET})
    live.wait_ready()
    yield live
    live.stop()


async def _burst(count: int, request: Callable[[httpx.AsyncClient, int], Any]) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=count, max_keepalive_connections=0)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:
        return list(await asyncio.gather(*(request(client, n) for n in range(count))))


@pytest.mark.slow
async def test_a_burst_of_anonymous_registrations_keeps_memory_bounded(server: LiveServer) -> None:
    def register(client: httpx.AsyncClient, n: int) -> Any:
        email = f"burst-{n}-{uuid.uuid4().hex[:6]}@example.com"
        return client.post(
            f"{server.url}/api/v1/auth/register", json={"email": email, "password": "correct horse battery"}
        )

    await _burst(4, register)  # warm up: the allocator's first hashes
    baseline = _rss_bytes(server.process.pid)
    with PeakRss(server.process.pid) as rss:
        responses = await _burst(150, register)

    statuses = {r.status_code for r in responses}
    assert statuses <= {202, 503}, statuses
    for busy in (r for r in responses if r.status_code == 503):
        assert busy.headers["retry-after"] == "1"
        assert busy.json()["code"] == "server_busy"
    grown = (rss.peak - baseline) / MIB
    assert grown < 200, f"RSS grew by {grown:.0f} MiB during the burst ({statuses})"


def _signed_delivery(size: int) -> tuple[bytes, dict[str, str]]:
    payload = {
        "zen": "x" * size,
        "hook_id": 1,
        "repository": {
            "id": 1,
            "full_name": "nobody/nothing",
            "name": "nothing",
            "owner": {"login": "nobody"},
        },
    }
    body = json.dumps(payload).encode()
    signature = hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return body, {
        "X-GitHub-Event": "ping",
        "X-Hub-Signature-256": f"sha256={signature}",
        "Content-Type": "application/json",
    }


@pytest.mark.slow
async def test_concurrent_large_webhook_deliveries_keep_memory_bounded(server: LiveServer) -> None:
    body, headers = _signed_delivery(24 * MIB)

    def deliver(client: httpx.AsyncClient, n: int) -> Any:
        return client.post(
            f"{server.url}/api/v1/webhooks/github",
            content=body,
            headers={**headers, "X-GitHub-Delivery": str(uuid.uuid4())},
        )

    await _burst(1, deliver)  # warm up
    baseline = _rss_bytes(server.process.pid)
    with PeakRss(server.process.pid) as rss:
        responses = await _burst(10, deliver)

    statuses = {r.status_code for r in responses}
    assert statuses <= {200, 202, 503}, statuses
    for busy in (r for r in responses if r.status_code == 503):
        assert busy.headers["retry-after"] == "1"
    grown = (rss.peak - baseline) / MIB
    assert grown < 200, f"RSS grew by {grown:.0f} MiB during the burst ({statuses})"
