"""Live task events over Server-Sent Events, against real server processes.

In the single-process tests, test-only routes (create a task, append an event and notify) over test tables
in the app's own database stand in for the task engine; the SSE route, the use case, the notifier and the
stream cap are the real ones. The two-process test runs a real task: submitted over HTTP on one API process,
run by a separate worker process, watched on the other API process (PostgreSQL + Redis).
"""

from __future__ import annotations

import asyncio
import base64
import os
import re
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from asynccoder.adapters.sqlalchemy import migrations_runner
from asynccoder.adapters.sqlalchemy.database import create_engine
from asynccoder.adapters.sqlalchemy.uow import SqlAlchemyUnitOfWork
from asynccoder.adapters.system.clock import SystemClock
from asynccoder.adapters.system.ids import Uuid7Generator
from asynccoder.application.billing.credits import GrantCredits, GrantCreditsInput
from tests.support.events_app import start_events_server
from tests.support.git_repos import make_repo
from tests.support.live_server import LiveServer, start_server
from tests.support.services import redis_url, scratch_postgres_database
from tests.support.sse_client import SseMessage, messages
from tests.support.worker_process import ANSWER

pytestmark = pytest.mark.slow

PASSWORD = "correct horse battery staple"
SHARED_SECRETS = {
    "JWT_SECRET": "stream-tests-jwt-secret-" + "y" * 32,
    "ENCRYPTION_KEYS": "k1:" + base64.urlsafe_b64encode(b"k" * 32).decode().rstrip("="),
}
TIMEOUT = httpx.Timeout(20.0)
ROOT = Path(__file__).resolve().parents[2]
REPOSITORY = "acme/sse-watched"


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
    """Two real API processes (``asynccoder serve``, no embedded worker) on one PostgreSQL database and one
    Redis (notifications and the stream cap), the local code host on one shared repositories root, and a
    platform key so that a model is reachable for submits. Heartbeats (and the re-reads that come with them)
    are a minute apart, so a stream that ends within the test's 20 s was woken by notifications."""
    make_repo(tmp_path / "repositories", REPOSITORY, feature=False)
    with scratch_postgres_database("asynccoder_sse") as database_url:
        migrations_runner.upgrade(database_url)  # once, so that both processes can start at the same time
        env = {
            **SHARED_SECRETS,
            "DATABASE_URL": database_url,
            "ASYNCCODER_AUTO_MIGRATE": "false",
            "ASYNCCODER_EMBEDDED_WORKER": "false",
            "REDIS_URL": redis_url(),
            "EVENT_STREAMS_PER_USER": "1",
            "EVENT_STREAM_HEARTBEAT_SECONDS": "60",
            "CODE_HOST": "local",
            "LOCAL_REPOSITORIES_ROOT": str(tmp_path / "repositories"),
            "CLAUDE_API_KEY": "sk-test-platform",
            "PASSWORD_HASH_MEMORY_KIB": "64",
            "PASSWORD_HASH_TIME_COST": "1",
        }
        servers = []
        for n in range(2):
            (tmp_path / f"api{n}" / "data").mkdir(parents=True)
            servers.append(start_server(tmp_path / f"api{n}" / "data", env))
        try:
            for server in servers:
                server.wait_ready(deadline_seconds=180)
            yield servers[0], servers[1], database_url
        finally:
            for server in servers:
                server.stop()


@contextmanager
def worker_process(database_url: str, errors: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A separate worker process (the real ``TaskWorker`` and container, a scripted model and runner) that
    notifies through Redis."""
    with errors.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.support.worker_process", database_url, "finish", redis_url()],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=subprocess.DEVNULL,
            stderr=sink,
        )
        try:
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def grant_credits(database_url: str, user_id: uuid.UUID, amount: int) -> None:
    engine: AsyncEngine = create_engine(database_url)
    try:
        await GrantCredits(SqlAlchemyUnitOfWork(engine), SystemClock(), Uuid7Generator())(
            GrantCreditsInput(user_id, amount, f"sse-test:{user_id}")
        )
    finally:
        await engine.dispose()


async def until_settled(
    http: httpx.AsyncClient, server: LiveServer, auth: dict[str, str], task_id: str
) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20
    while True:
        body: dict[str, Any] = (await http.get(f"{server.url}/api/v1/tasks/{task_id}", headers=auth)).json()
        if body["settled_credits"] is not None:
            return body
        assert loop.time() < deadline, body
        await asyncio.sleep(0.05)


@pytest.mark.postgres
@pytest.mark.redis
async def test_a_stream_on_one_api_process_follows_a_task_submitted_on_another_and_run_by_a_worker(
    api_pair: tuple[LiveServer, LiveServer, str], http: httpx.AsyncClient, tmp_path: Path
) -> None:
    first, second, database_url = api_pair
    ada = await sign_up(http, first)
    profile = await http.get(f"{first.url}/api/v1/users/profile", headers=ada)
    assert profile.status_code == 200, profile.text
    await grant_credits(database_url, uuid.UUID(profile.json()["id"]), 10_000)
    connected = await http.post(
        f"{first.url}/api/v1/repositories", json={"full_name": REPOSITORY}, headers=ada
    )
    assert connected.status_code == 201, connected.text
    submitted = await http.post(
        f"{first.url}/api/v1/tasks",
        json={"repository_id": connected.json()["id"], "mode": "ask", "instructions": "How does it build?"},
        headers=ada,
    )
    assert submitted.status_code == 202, submitted.text
    task = submitted.json()["id"]

    async with http.stream("GET", events_url(second, task), headers=ada) as response:
        assert response.status_code == 200
        stream = messages(response)
        seen = await read_events(stream, 1)  # the queued status, written by the first process

        # The cap is shared: Ada's one slot is taken on the second process.
        refused = await http.get(events_url(first, task), headers=ada)
        assert (refused.status_code, refused.json()["code"]) == (429, "too_many_streams")

        with worker_process(database_url, tmp_path / "worker.stderr") as worker:
            try:
                seen += await read_to_the_end(stream)  # the server ends the stream after the final status
                # The worker settles right after the final status; read the task through the first process.
                done = await until_settled(http, first, ada, task)
            finally:
                assert worker.poll() is None, (tmp_path / "worker.stderr").read_text()[-3000:]

    assert [m.id for m in seen] == [str(n) for n in range(1, len(seen) + 1)]  # each event once, in order
    assert [m.event for m in seen] == ["status", "status", "log", "usage", "log", "result", "status"]
    statuses = [m.data["data"]["status"] for m in seen if m.event == "status"]
    assert statuses == ["queued", "running", "succeeded"]
    assert [m.data["data"]["message"] for m in seen if m.event == "log"] == [
        "reading the repository",
        "writing the answer",
    ]
    assert seen[5].data["data"]["summary_markdown"] == ANSWER
    assert all(m.data["task_id"] == task for m in seen)
    usage = seen[3].data["data"]
    assert (usage["key_source"], usage["input_tokens"], usage["output_tokens"]) == ("platform", 1_000, 100)

    # The tasks table agrees, and the worker settled the task's usage.
    assert (done["status"], done["attempt"]) == ("succeeded", 1)
    receipt = (await http.get(f"{first.url}/api/v1/tasks/{task}/receipt", headers=ada)).json()
    assert receipt["settled_credits"] == done["settled_credits"] == usage["charged_credits"] > 0

    # The closed stream gave its shared slot back: the first process now streams the whole story again.
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 15
    while (replay := await http.get(events_url(first, task), headers=ada)).status_code == 429:
        assert loop.time() < deadline, "the closed stream's slot was not given back"
        await asyncio.sleep(0.05)
    assert replay.status_code == 200
    assert re.findall(r"^id: (\d+)\r?$", replay.text, re.MULTILINE) == [m.id for m in seen]
