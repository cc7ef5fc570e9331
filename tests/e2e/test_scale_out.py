"""Scale-out on real engines: two API processes (``asynccoder serve``) and two worker processes (``asynccoder
worker``) on one PostgreSQL and one Redis, started the way the README's Deployment section starts them.

The workers' model calls go through the real Anthropic SDK to a local server speaking the Messages API, so a
test can hold one call open (the task is mid-run) and SIGKILL the worker that made it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import psycopg
import pytest

from asynccoder.adapters.system.clock import SystemClock
from asynccoder.adapters.system.ids import Uuid7Generator
from asynccoder.application.billing.credits import GrantCredits, GrantCreditsInput
from tests.support.anthropic_server import AnthropicServer, message
from tests.support.app import make_settings
from tests.support.code_hosting import in_database
from tests.support.fake_http import Reply
from tests.support.git_repos import git
from tests.support.live_server import LiveServer, start_server
from tests.support.services import redis_url, scratch_postgres_database
from tests.support.sse_client import messages

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]

PASSWORD = "correct horse battery staple"
API_KEY = "sk-ant-scale-out"
# A killed worker's task runs again after about this + 5 s (README, Deployment). Heartbeats are every second,
# but on a loaded 2-core machine seconds can pass between two of them: shorter would hand back live work.
STALE_AFTER_SECONDS = 8
BASIC_PER_MINUTE = 600  # the sensitive (billing) bucket is a fifth: 120


def _architect_plan() -> Reply:
    """The model's whole turn in Architect mode: submit a plan naming a file the repository has."""
    plan = {"plan": "1. Document `add`.", "affected_files": ["calc.py"]}
    return message(None, tool_calls=[("toolu_1", "submit", plan)], model="claude-haiku-4-5-20251001")


@dataclass
class Cluster:
    apis: tuple[LiveServer, LiveServer]
    workers: list[subprocess.Popen[bytes]]
    model: AnthropicServer
    database_url: str
    env: dict[str, str]

    def libpq(self) -> str:
        return self.database_url.replace("postgresql+psycopg://", "postgresql://", 1)

    def task_row(self, task_id: str) -> tuple[str, str | None, int]:
        with psycopg.connect(self.libpq()) as conn:
            row = conn.execute(
                "SELECT status, worker_id, attempt FROM tasks WHERE id = %s", (UUID(task_id),)
            ).fetchone()
        assert row is not None
        return str(row[0]), row[1], int(row[2])


def _run_cli(env: dict[str, str], *args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "asynccoder.entrypoints.cli", *args],
        env={**os.environ, **env},
        check=True,
        stdout=subprocess.DEVNULL,
        timeout=120,
    )


def _start_worker(env: dict[str, str], data_dir: Path) -> subprocess.Popen[bytes]:
    data_dir.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [sys.executable, "-m", "asynccoder.entrypoints.cli", "worker"],
        env={**os.environ, "ASYNCCODER_DATA_DIR": str(data_dir), "LOG_LEVEL": "WARNING", **env},
        cwd=data_dir.parent,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("scale-out")
    repositories = root / "repositories"
    repo = repositories / "acme" / "calc"
    repo.mkdir(parents=True)
    git("init", "--initial-branch=main", str(repo), cwd=root)
    (repo / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    git("add", ".", cwd=repo)
    git("commit", "-m", "init", cwd=repo)
    with scratch_postgres_database("asynccoder_scale") as database_url, AnthropicServer(API_KEY) as model:
        env = {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url(),
            "JWT_SECRET": "scale-out-jwt-secret-" + "z" * 32,
            "ENCRYPTION_KEYS": "k1:" + "a" * 43,
            "ASYNCCODER_AUTO_MIGRATE": "false",
            "PASSWORD_HASH_MEMORY_KIB": "64",
            "PASSWORD_HASH_TIME_COST": "1",
            "CODE_HOST": "local",
            "LOCAL_REPOSITORIES_ROOT": str(repositories),
            "CLAUDE_API_KEY": API_KEY,
            "ANTHROPIC_BASE_URL": model.base_url,
            "AI_MAX_ATTEMPTS": "1",
            "WORKER_CONCURRENCY": "1",
            "TASK_STALE_AFTER_SECONDS": str(STALE_AFTER_SECONDS),
            "RATE_LIMIT_ENABLED": "true",
            "RATE_LIMIT_BASIC_PER_MINUTE": str(BASIC_PER_MINUTE),
        }
        _run_cli(env, "migrate")
        apis = (start_server(root / "api-1", env), start_server(root / "api-2", env))
        workers = [_start_worker(env, root / f"worker-{n}") for n in (1, 2)]
        try:
            for api in apis:
                api.wait_ready(deadline_seconds=120)
            yield Cluster(apis, workers, model, database_url, env)
        finally:
            for api in apis:
                api.stop()
            for worker in workers:
                if worker.poll() is None:
                    worker.send_signal(signal.SIGTERM)
                    try:
                        worker.wait(timeout=15)
                    except subprocess.TimeoutExpired:
                        worker.kill()
                        worker.wait()


async def _user(http: httpx.AsyncClient, cluster: Cluster, *, credits: int = 0) -> dict[str, str]:
    first, second = cluster.apis
    email = f"scale-{uuid.uuid4().hex[:12]}@example.com"
    registered = await http.post(
        f"{first.url}/api/v1/auth/register", json={"email": email, "password": PASSWORD}
    )
    assert registered.status_code == 202, registered.text
    login = await http.post(f"{second.url}/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    auth = {"Authorization": f"Bearer {login.json()['access_token']}"}
    if credits:
        user_id = UUID((await http.get(f"{first.url}/api/v1/users/profile", headers=auth)).json()["id"])

        async def grant(uow: Any) -> None:
            await GrantCredits(uow, SystemClock(), Uuid7Generator())(
                GrantCreditsInput(user_id, credits, f"scale-out:{user_id}")
            )

        await in_database(make_settings(database_url=cluster.database_url), grant)
    return auth


async def _until(predicate: Any, what: str, seconds: float = 30) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        value = await predicate()
        if value:
            return value
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


async def test_two_api_processes_share_a_users_rate_limit(cluster: Cluster) -> None:
    first, second = cluster.apis
    async with httpx.AsyncClient(timeout=20) as http:
        auth = await _user(http, cluster)
        limit = BASIC_PER_MINUTE // 5
        for n in range(limit):
            ok = await http.get(f"{cluster.apis[n % 2].url}/api/v1/billing/subscription", headers=auth)
            assert ok.status_code == 200, ok.text
            assert ok.headers["ratelimit-remaining"] == str(limit - 1 - n)
        for api in (first, second):
            refused = await http.get(f"{api.url}/api/v1/billing/subscription", headers=auth)
            assert refused.status_code == 429
            assert refused.json()["code"] == "rate_limited"
            assert int(refused.headers["retry-after"]) >= 1


async def test_tasks_spread_over_both_workers_reach_sse_on_the_other_api_and_survive_a_sigkill(
    cluster: Cluster,
) -> None:
    first, second = cluster.apis
    # The first model call hangs (its task is mid-run); every later call submits a plan at once.
    cluster.model.enqueue(Reply.hanging(seconds=120), *(_architect_plan() for _ in range(8)))
    async with httpx.AsyncClient(timeout=httpx.Timeout(30.0)) as http:
        auth = await _user(http, cluster, credits=50_000)
        connected = await http.post(
            f"{first.url}/api/v1/repositories", json={"full_name": "acme/calc"}, headers=auth
        )
        assert connected.status_code == 201, connected.text
        repository_id = connected.json()["id"]

        async def submit(who: dict[str, str], repository_id: str) -> str:
            created = await http.post(
                f"{first.url}/api/v1/tasks",
                json={"repository_id": repository_id, "mode": "architect", "instructions": "Plan docs."},
                headers=who,
            )
            assert created.status_code == 202, created.text
            task_id: str = created.json()["id"]
            return task_id

        async def finished(who: dict[str, str], task_id: str) -> Any:
            body = (await http.get(f"{second.url}/api/v1/tasks/{task_id}", headers=who)).json()
            return body if body["status"] in {"succeeded", "failed", "cancelled"} else None

        hung = await submit(auth, repository_id)

        async def model_called() -> bool:
            return len(cluster.model.requests) >= 1

        await _until(model_called, "the first model call")
        hung_status, hung_worker, _ = cluster.task_row(hung)
        assert hung_status == "running"
        assert hung_worker is not None

        # Its worker is busy (concurrency 1), so the other worker runs the next tasks (another user's: the
        # Free plan runs one task at a time per user).
        bob = await _user(http, cluster, credits=50_000)
        bobs = await http.post(
            f"{first.url}/api/v1/repositories", json={"full_name": "acme/calc"}, headers=bob
        )
        assert bobs.status_code == 201, bobs.text
        others = []
        for _ in range(2):
            task_id = await submit(bob, bobs.json()["id"])
            done = await _until(lambda t=task_id: finished(bob, t), f"task {task_id}", seconds=40)
            assert done["status"] == "succeeded", done
            others.append(task_id)
        other_workers = {cluster.task_row(t)[1] for t in others}
        assert len(other_workers) == 1
        assert hung_worker not in other_workers

        # An SSE client on the *other* API process follows the hung task through the crash and the retry.
        async with http.stream("GET", f"{second.url}/api/v1/tasks/{hung}/events", headers=auth) as stream:
            assert stream.status_code == 200
            victim = next(w for w in cluster.workers if f":{w.pid}:" in hung_worker)
            victim.send_signal(signal.SIGKILL)
            victim.wait(timeout=10)
            statuses: list[tuple[str, int]] = []

            async def follow() -> None:
                async for event in messages(stream):
                    if event.event == "status":
                        data = event.data["data"]
                        statuses.append((data["status"], data["attempt"]))
                        if data["status"] in {"succeeded", "failed", "cancelled"}:
                            return

            await asyncio.wait_for(follow(), timeout=STALE_AFTER_SECONDS + 5 + 20)

        # The retry's events were published by the surviving worker and reached this stream live.
        assert [attempt for status, attempt in statuses if status == "running"][-1] >= 2, statuses
        assert statuses[-1][0] == "succeeded", statuses
        final_status, final_worker, attempt = cluster.task_row(hung)
        assert final_status == "succeeded"
        assert final_worker in other_workers  # the survivor
        assert attempt >= 2
