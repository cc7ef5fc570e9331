"""Live task events over Server-Sent Events, against real uvicorn processes.

Test-only routes (create a task, append an event and notify) over test tables in the app's own database
stand in for the task engine; the SSE route, the use case, the notifier and the stream cap are the real ones.
"""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from asynccoder.adapters.channels.backends import redis_backend
from asynccoder.adapters.channels.notifier import ChannelsTaskEventNotifier
from asynccoder.adapters.sqlalchemy import migrations_runner
from asynccoder.adapters.sqlalchemy.database import create_engine
from asynccoder.application.ports.events import TaskEventType
from tests.support.events_app import start_events_server
from tests.support.live_server import LiveServer
from tests.support.services import redis_url, scratch_postgres_database
from tests.support.sse_client import SseMessage, messages
from tests.support.task_events import SqlTaskEvents

pytestmark = pytest.mark.slow

PASSWORD = "correct horse battery staple"
SHARED_SECRETS = {
    "JWT_SECRET": "stream-tests-jwt-secret-" + "y" * 32,
    "ENCRYPTION_KEYS": "k1:" + base64.urlsafe_b64encode(b"k" * 32).decode().rstrip("="),
}
TIMEOUT = httpx.Timeout(20.0)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One API process (SQLite, in-process notifier) for the single-process tests: each test has its own
    users, so they do not meet. A 1 s heartbeat and a cap of 2 streams per user keep the tests short."""
    server = start_events_server(
        tmp_path_factory.mktemp("sse") / "data",
        {**SHARED_SECRETS, "EVENT_STREAM_HEARTBEAT_SECONDS": "1", "EVENT_STREAMS_PER_USER": "2"},
    )
    try:
        server.wait_ready(deadline_seconds=180)
        yield server
    finally:
        server.stop()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=TIMEOUT) as client:
        yield client


async def sign_up(http: httpx.AsyncClient, server: LiveServer, email: str | None = None) -> dict[str, str]:
    email = email or f"{uuid.uuid4().hex[:10]}@example.com"
    registered = await http.post(
        f"{server.url}/api/v1/auth/register", json={"email": email, "password": PASSWORD}
    )
    assert registered.status_code == 202, registered.text
    tokens = await http.post(f"{server.url}/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert tokens.status_code == 200, tokens.text
    return {"Authorization": f"Bearer {tokens.json()['access_token']}"}


async def new_task(http: httpx.AsyncClient, server: LiveServer, auth: dict[str, str]) -> str:
    response = await http.post(f"{server.url}/api/v1/test/tasks", headers=auth)
    assert response.status_code == 201, response.text
    task_id: str = response.json()["id"]
    return task_id


async def emit(
    http: httpx.AsyncClient,
    server: LiveServer,
    auth: dict[str, str],
    task_id: str,
    type: str = "log",
    **data: Any,
) -> int:
    response = await http.post(
        f"{server.url}/api/v1/test/tasks/{task_id}/events", headers=auth, json={"type": type, "data": data}
    )
    assert response.status_code == 201, response.text
    seq: int = response.json()["seq"]
    return seq


async def open_streams(http: httpx.AsyncClient, server: LiveServer, auth: dict[str, str]) -> int:
    response = await http.get(f"{server.url}/api/v1/test/event-streams", headers=auth)
    assert response.status_code == 200, response.text
    count: int = response.json()["open"]
    return count


async def until_open_streams(
    http: httpx.AsyncClient, server: LiveServer, auth: dict[str, str], expected: int
) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 15
    while (count := await open_streams(http, server, auth)) != expected:
        assert loop.time() < deadline, f"{count} streams still open, expected {expected}"
        await asyncio.sleep(0.05)


def events_url(server: LiveServer, task_id: str) -> str:
    return f"{server.url}/api/v1/tasks/{task_id}/events"


async def read_events(stream: AsyncIterator[SseMessage], count: int) -> list[SseMessage]:
    seen: list[SseMessage] = []

    async def read() -> None:
        async for message in stream:
            if message.is_event:
                seen.append(message)
                if len(seen) == count:
                    return

    await asyncio.wait_for(read(), 20)
    return seen


async def read_to_the_end(stream: AsyncIterator[SseMessage]) -> list[SseMessage]:
    async def read() -> list[SseMessage]:
        return [message async for message in stream if message.is_event]

    return await asyncio.wait_for(read(), 20)


async def test_a_client_that_reconnects_with_last_event_id_gets_every_event_exactly_once(
    server: LiveServer, http: httpx.AsyncClient
) -> None:
    ada = await sign_up(http, server)
    task = await new_task(http, server, ada)
    for n in range(3):
        await emit(http, server, ada, task, line=n)

    async with http.stream("GET", events_url(server, task), headers=ada) as response:
        assert response.status_code == 200
        assert response.headers["cache-control"] == "no-store"  # credentialed: never stored
        stream = messages(response)
        first = await read_events(stream, 3)
        await emit(http, server, ada, task, line=3)  # live, while connected
        first += await read_events(stream, 1)
    # The client went away: its server-side generator stops and gives its slot back.
    await until_open_streams(http, server, ada, 0)

    for n in range(4, 6):  # missed while disconnected
        await emit(http, server, ada, task, line=n)
    resume = {**ada, "Last-Event-ID": first[-1].id or ""}
    async with http.stream("GET", events_url(server, task), headers=resume) as response:
        assert response.status_code == 200
        stream = messages(response)
        second = await read_events(stream, 2)
        await emit(http, server, ada, task, "status", status="succeeded")
        second += await read_to_the_end(stream)  # the server ends the stream after the final status

    received = first + second
    assert [m.id for m in received] == [str(n) for n in range(1, 8)]
    assert [m.event for m in received] == ["log"] * 6 + ["status"]
    assert [m.data["data"] for m in received[:6]] == [{"line": n} for n in range(6)]
    assert received[-1].data["data"] == {"status": "succeeded"}
    assert all(m.data["task_id"] == task and m.data["seq"] == int(m.id or 0) for m in received)
    await until_open_streams(http, server, ada, 0)

    # Reconnecting after the end: nothing left, and 204 tells an EventSource to stop.
    done = await http.get(events_url(server, task), headers={**ada, "Last-Event-ID": "7"})
    assert done.status_code == 204


async def test_an_idle_stream_carries_heartbeat_comments(server: LiveServer, http: httpx.AsyncClient) -> None:
    ada = await sign_up(http, server)
    task = await new_task(http, server, ada)

    heartbeats = 0
    async with http.stream("GET", events_url(server, task), headers=ada) as response:

        async def two_heartbeats() -> None:
            nonlocal heartbeats
            async for message in messages(response):
                assert not message.is_event
                heartbeats += message.comments.count("heartbeat")
                if heartbeats == 2:
                    return

        await asyncio.wait_for(two_heartbeats(), 20)

    assert heartbeats == 2


async def test_too_many_open_streams_get_429_until_one_closes(
    server: LiveServer, http: httpx.AsyncClient
) -> None:
    ada = await sign_up(http, server)
    bob = await sign_up(http, server)
    task = await new_task(http, server, ada)
    bobs_task = await new_task(http, server, bob)

    async with AsyncExitStack() as streams:
        first = await streams.enter_async_context(http.stream("GET", events_url(server, task), headers=ada))
        second = await streams.enter_async_context(http.stream("GET", events_url(server, task), headers=ada))
        assert (first.status_code, second.status_code) == (200, 200)

        refused = await http.get(events_url(server, task), headers=ada)
        assert refused.status_code == 429
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["code"] == "too_many_streams"
        assert int(refused.headers["retry-after"]) >= 1
        assert refused.headers["ratelimit-limit"] == "2"

        # The cap is per user.
        async with http.stream("GET", events_url(server, bobs_task), headers=bob) as bobs:
            assert bobs.status_code == 200

        await first.aclose()
        await until_open_streams(http, server, ada, 1)
        async with http.stream("GET", events_url(server, task), headers=ada) as third:
            assert third.status_code == 200
    await until_open_streams(http, server, ada, 0)


async def test_another_users_stream_is_404_and_a_bad_last_event_id_is_400(
    server: LiveServer, http: httpx.AsyncClient
) -> None:
    ada = await sign_up(http, server)
    bob = await sign_up(http, server)
    task = await new_task(http, server, ada)
    await emit(http, server, ada, task, line=1)

    hidden = await http.get(events_url(server, task), headers=bob)
    unknown = await http.get(events_url(server, str(uuid.uuid4())), headers=ada)
    anonymous = await http.get(events_url(server, task))
    malformed = await http.get(events_url(server, task), headers={**ada, "Last-Event-ID": "abc"})
    ahead = await http.get(events_url(server, task), headers={**ada, "Last-Event-ID": "2"})

    assert (hidden.status_code, hidden.json()["code"]) == (404, "task_not_found")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "task_not_found")
    assert anonymous.status_code == 401
    assert (malformed.status_code, malformed.json()["code"]) == (400, "invalid_last_event_id")
    assert (ahead.status_code, ahead.json()["code"]) == (400, "invalid_last_event_id")
    assert await open_streams(http, server, bob) == 0


@pytest.fixture
def api_pair(tmp_path: Path) -> Iterator[tuple[LiveServer, LiveServer, str]]:
    """Two API processes on one PostgreSQL database and one Redis (notifications and the stream cap)."""
    with scratch_postgres_database("asynccoder_sse") as database_url:
        migrations_runner.upgrade(database_url)  # once, so that both processes can start at the same time
        env = {
            **SHARED_SECRETS,
            "DATABASE_URL": database_url,
            "ASYNCCODER_AUTO_MIGRATE": "false",
            "REDIS_URL": redis_url(),
            "EVENT_STREAMS_PER_USER": "1",
        }
        servers = [start_events_server(tmp_path / f"data{n}", env) for n in range(2)]
        try:
            for server in servers:
                server.wait_ready(deadline_seconds=180)
            yield servers[0], servers[1], database_url
        finally:
            for server in servers:
                server.stop()


@pytest.mark.postgres
@pytest.mark.redis
async def test_a_stream_on_one_api_process_sees_events_notified_by_another_and_by_a_worker(
    api_pair: tuple[LiveServer, LiveServer, str], http: httpx.AsyncClient
) -> None:
    first, second, database_url = api_pair
    ada = await sign_up(http, first)
    task = await new_task(http, first, ada)

    async with http.stream("GET", events_url(first, task), headers=ada) as response:
        assert response.status_code == 200
        stream = messages(response)
        await emit(http, second, ada, task, line="from the other API process")
        seen = await read_events(stream, 1)

        # The cap is shared too: Ada's one slot is taken on the first process.
        refused = await http.get(events_url(second, task), headers=ada)
        assert (refused.status_code, refused.json()["code"]) == (429, "too_many_streams")

        # A worker process has no HTTP app: it appends and notifies with its own notifier.
        await worker_appends_and_notifies(database_url, uuid.UUID(task))
        seen += await read_events(stream, 1)

        await emit(http, second, ada, task, "status", status="failed", reason="internal")
        seen += await read_to_the_end(stream)

    assert [m.id for m in seen] == ["1", "2", "3"]
    assert [m.data["data"] for m in seen] == [
        {"line": "from the other API process"},
        {"line": "from a worker"},
        {"status": "failed", "reason": "internal"},
    ]
    await until_open_streams(http, second, ada, 0)


async def worker_appends_and_notifies(database_url: str, task_id: uuid.UUID) -> None:
    engine: AsyncEngine = create_engine(database_url)
    client = Redis.from_url(redis_url())
    try:
        async with ChannelsTaskEventNotifier(redis_backend(client)) as notifier:
            event = await SqlTaskEvents(engine).append(
                task_id, TaskEventType.LOG, {"line": "from a worker"}, datetime.now(UTC)
            )
            await notifier.notify(task_id, event.seq)
    finally:
        await engine.dispose()
        await client.aclose()
