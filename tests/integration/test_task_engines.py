"""One contract for both task queue engines on PostgreSQL: the in-process engine (workers claim rows of the
tasks table) and procrastinate (jobs deferred in the submit's transaction, run by procrastinate workers that
run the engine's own attempt). Real connections, real workers, the system clock."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol
from uuid import UUID

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from asynccoder.adapters.ai.scripted import ScriptedTurn
from asynccoder.adapters.sqlalchemy.database import create_engine
from asynccoder.adapters.sqlalchemy.procrastinate_queue import (
    ProcrastinateTaskQueue,
    ProcrastinateWorker,
    procrastinate_app,
    procrastinate_conninfo,
)
from asynccoder.adapters.sqlalchemy.uow import SqlAlchemyUnitOfWork
from asynccoder.adapters.system.clock import SystemClock
from asynccoder.application.ports.task_execution import TaskExecution, TaskOutcome
from asynccoder.domain.ai import ModelTier
from asynccoder.domain.errors import Unavailable
from asynccoder.domain.tasks import FailureReason, Task, TaskMode, TaskResult, TaskStatus, retry_backoff
from tests.support.databases import Databases
from tests.support.task_engine import EngineWorld, Fail, Log, ScriptedTaskRunner, WaitForCancel
from tests.support.worker_process import MODEL as CRASH_MODEL

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.postgres

ENGINES = ("inprocess", "procrastinate")
PROCRASTINATE_TABLES = (
    "procrastinate_events, procrastinate_periodic_defers, procrastinate_jobs, procrastinate_workers"
)


class Loop(Protocol):
    async def run(self) -> None: ...

    def stop(self) -> None: ...


@dataclasses.dataclass
class Engines:
    """The engine under test: its world (submits through the engine's queue) and how to make its workers."""

    name: str
    world: EngineWorld
    url: str

    def worker(self, runner: Any, worker_id: str = "w1", **config: Any) -> Loop:
        worker = self.world.worker(runner, worker_id, **config)
        return ProcrastinateWorker(worker, self.url) if self.name == "procrastinate" else worker

    async def jobs(self) -> list[tuple[str, str]]:
        """procrastinate's task jobs (task name, status) in id order; none for the in-process engine."""
        async with self.world.new_uow() as uow:
            assert isinstance(uow, SqlAlchemyUnitOfWork)
            rows = await uow.connection.execute(
                sa.text(
                    "SELECT task_name, status::text FROM procrastinate_jobs"
                    " WHERE task_name = 'asynccoder.run_task' ORDER BY id"
                )
            )
            return [(r[0], r[1]) for r in rows]

    async def maintenance_ticks(self) -> dict[str, int]:
        """procrastinate's maintenance jobs per periodic tick (its ``timestamp`` argument)."""
        async with self.world.new_uow() as uow:
            assert isinstance(uow, SqlAlchemyUnitOfWork)
            rows = await uow.connection.execute(
                sa.text(
                    "SELECT args->>'timestamp', count(*) FROM procrastinate_jobs"
                    " WHERE task_name = 'asynccoder.maintain' GROUP BY 1"
                )
            )
            return {r[0]: r[1] for r in rows}


@pytest.fixture
async def small_pool(databases: Databases) -> AsyncIterator[AsyncEngine]:
    shared = await databases.clean_engine("postgres")
    async with shared.begin() as conn:
        await conn.execute(sa.text(f"TRUNCATE {PROCRASTINATE_TABLES} RESTART IDENTITY CASCADE"))
    await shared.dispose()
    engine = create_engine(databases.url("postgres"), pool_size=4)
    yield engine
    await engine.dispose()


@pytest.fixture(params=ENGINES)
async def engines(request: pytest.FixtureRequest, databases: Databases, small_pool: AsyncEngine) -> Engines:
    world = EngineWorld(lambda: SqlAlchemyUnitOfWork(small_pool), SystemClock())
    # The worker processes run the real container: the Free plan's tiers decide, so the model is economy.
    world.model = dataclasses.replace(world.model, model_name=CRASH_MODEL, tier=ModelTier.ECONOMY)
    url = databases.url("postgres")
    if request.param == "procrastinate":
        world.queue = ProcrastinateTaskQueue(procrastinate_app(procrastinate_conninfo(url)))
    await world.seed()
    async with world.new_uow() as uow:
        free = await uow.billing_catalogue.get_plan_by_code("free")
        assert free is not None
        await uow.billing_catalogue.save_plan(dataclasses.replace(free, max_concurrent_tasks=100))
        await uow.commit()
    return Engines(request.param, world, url)


async def _account(world: EngineWorld, user_id: UUID) -> tuple[int, int]:
    async with world.new_uow() as uow:
        account = await uow.credits.get_account(user_id)
    return account.available, account.held


async def _task(world: EngineWorld, task_id: UUID) -> Task:
    async with world.new_uow() as uow:
        task = await uow.tasks.get(task_id)
    assert task is not None
    return task


async def _until(check: Callable[[], Awaitable[bool]], seconds: float, what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not await check():
        assert loop.time() < deadline, what
        await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def running(*workers: Loop) -> AsyncIterator[None]:
    loops = [asyncio.ensure_future(w.run()) for w in workers]
    try:
        yield
    finally:
        for w in workers:
            w.stop()
        await asyncio.gather(*loops)


async def test_a_task_runs_to_success_and_is_settled(engines: Engines) -> None:
    world = engines.world
    world.chat.model(CRASH_MODEL).add(ScriptedTurn(text="An answer.", usage=world.turn_usage))
    user, repo = await world.user_with_repository(credits=5_000)
    task = (await world.submit(user, repo)).task

    async with running(engines.worker(ScriptedTaskRunner())):

        async def settled() -> bool:
            return (await _task(world, task.id)).settled_credits is not None

        await _until(settled, 20, "the task was not run and settled")
    done = await _task(world, task.id)
    assert (done.status, done.attempt) == (TaskStatus.SUCCEEDED, 1)
    assert done.settled_credits is not None
    assert done.settled_credits > 0
    assert await _account(world, user.id) == (5_000 - done.settled_credits, 0)
    if engines.name == "procrastinate":
        assert ("asynccoder.run_task", "succeeded") in await engines.jobs()


@dataclasses.dataclass
class IntervalRunner:
    """Records when each attempt ran (wall clock), yielding meanwhile so other workers may try to claim."""

    intervals: list[tuple[str, datetime, datetime]] = dataclasses.field(default_factory=list)

    async def run(self, execution: TaskExecution) -> TaskOutcome:
        start = datetime.now().astimezone()
        for _ in range(5):
            await asyncio.sleep(0.01)
        self.intervals.append((execution.mode.value, start, datetime.now().astimezone()))
        return TaskOutcome(result=TaskResult("done"))


async def test_writing_tasks_on_one_repository_never_overlap(engines: Engines) -> None:
    world = engines.world
    user, repo = await world.user_with_repository(credits=100_000)
    modes = [TaskMode.DEBUG, TaskMode.DOCUMENTATION] * 3 + [TaskMode.ASK] * 3
    tasks = [(await world.submit(user, repo, mode=mode, budget_cap_credits=100)).task for mode in modes]
    runner = IntervalRunner()
    # Gentle on the shared server: two workers, two tasks each, half-second heartbeats.
    workers = [
        engines.worker(runner, f"w{i}", concurrency=2, heartbeat_interval=0.5, maintenance_interval=1.0)
        for i in range(2)
    ]
    async with running(*workers):

        async def all_ran() -> bool:
            return len(runner.intervals) >= len(tasks)

        await _until(all_ran, 60, "not every task ran")
    writing = sorted((s, e) for mode, s, e in runner.intervals if mode != "ask")
    assert len(writing) == 6
    for (_, end), (next_start, _) in itertools.pairwise(writing):
        assert end <= next_start, "two writing tasks on one repository overlapped"
    assert {(await _task(world, t.id)).status for t in tasks} == {TaskStatus.SUCCEEDED}
    if engines.name == "procrastinate":  # two workers, one maintenance job per tick
        ticks = await engines.maintenance_ticks()
        assert ticks
        assert all(count == 1 for count in ticks.values()), ticks


async def test_a_cancelled_running_task_stops_within_five_seconds_with_credits_released(
    engines: Engines,
) -> None:
    world = engines.world
    user, repo = await world.user_with_repository(credits=5_000)
    task = (await world.submit(user, repo)).task
    runner = ScriptedTaskRunner(((WaitForCancel(),),))
    async with running(engines.worker(runner, heartbeat_interval=1.0)):
        await asyncio.wait_for(runner.started.wait(), 20)
        await world.cancel_use_case()(user.as_actor(), task.id)

        async def released() -> bool:
            return await _account(world, user.id) == (5_000, 0)

        await _until(released, 5, "not stopped and released within 5 s")
        if engines.name == "procrastinate":

            async def aborted() -> bool:
                return ("asynccoder.run_task", "aborted") in await engines.jobs()

            await _until(aborted, 5, "the job did not end aborted")
    done = await _task(world, task.id)
    assert (done.status, done.settled_credits) == (TaskStatus.CANCELLED, 0)


async def test_a_transient_failure_is_retried_after_its_backoff(engines: Engines) -> None:
    world = engines.world
    user, repo = await world.user_with_repository(credits=5_000)
    task = (await world.submit(user, repo)).task
    runner = ScriptedTaskRunner(((Fail(FailureReason.PROVIDER_ERROR, transient=True),), (Log("second try"),)))
    async with running(engines.worker(runner)):

        async def succeeded() -> bool:
            return (await _task(world, task.id)).status is TaskStatus.SUCCEEDED

        await _until(succeeded, 30, "the transient failure was not retried")
    first, second = runner.executions
    assert (first.attempt, second.attempt) == (1, 2)
    gap = second.deadline - first.deadline  # each attempt's deadline = its start + the wall-clock limit
    assert gap >= retry_backoff(1)
    if engines.name == "procrastinate":  # one job, retried by its RetryStrategy, then done
        assert await engines.jobs() == [("asynccoder.run_task", "succeeded")]


async def test_a_permanent_failure_is_not_retried(engines: Engines) -> None:
    world = engines.world
    user, repo = await world.user_with_repository(credits=5_000)
    task = (await world.submit(user, repo)).task
    runner = ScriptedTaskRunner(((Fail(FailureReason.REPOSITORY_UNAVAILABLE),), (Log("never"),)))
    async with running(engines.worker(runner)):

        async def failed() -> bool:
            return (await _task(world, task.id)).settled_credits is not None

        await _until(failed, 20, "the task did not fail and settle")
    done = await _task(world, task.id)
    assert (done.status, done.failure_reason, done.attempt) == (
        TaskStatus.FAILED,
        FailureReason.REPOSITORY_UNAVAILABLE,
        1,
    )
    assert len(runner.executions) == 1
    assert await _account(world, user.id) == (5_000, 0)


async def test_a_worker_killed_mid_task_leaves_no_task_stuck_and_nothing_held(
    engines: Engines, tmp_path: Path
) -> None:
    world = engines.world
    user, repo = await world.user_with_repository(credits=5_000)
    tasks = [(await world.submit(user, repo, budget_cap_credits=500)).task for _ in range(2)]
    errors = (tmp_path / "worker.stderr").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.support.worker_process", engines.url],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "ASYNCCODER_TASK_QUEUE": engines.name},
        stdout=subprocess.DEVNULL,
        stderr=errors,
    )
    try:

        async def both_running_with_usage() -> bool:
            assert process.poll() is None, (tmp_path / "worker.stderr").read_text()[-3000:]
            async with world.new_uow() as uow:
                for t in tasks:
                    current = await uow.tasks.get(t.id)
                    if not (
                        current
                        and current.status is TaskStatus.RUNNING
                        and await uow.task_usage.list_for_task(t.id)
                    ):
                        return False
            return True

        await _until(both_running_with_usage, 60, (tmp_path / "worker.stderr").read_text()[-3000:])
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
        errors.close()
    assert (await _account(world, user.id))[1] == 1_000  # held while nobody finishes them

    # A surviving worker recovers them once the dead worker's heartbeat is stale (2 s here).
    survivor = engines.worker(ScriptedTaskRunner(((),)), "survivor", stale_after=timedelta(seconds=2))
    async with running(survivor):

        async def all_settled() -> bool:
            return all([(await _task(world, t.id)).settled_credits is not None for t in tasks])

        await _until(all_settled, 60, "the killed worker's tasks were not recovered")
    ended = [await _task(world, t.id) for t in tasks]
    assert {(t.status, t.attempt, t.worker_id) for t in ended} == {(TaskStatus.SUCCEEDED, 2, "survivor")}
    charged = sum(t.settled_credits or 0 for t in ended)
    assert charged > 0  # the killed attempts' model calls are still paid for, once
    assert await _account(world, user.id) == (5_000 - charged, 0)


async def test_a_graceful_shutdown_hands_a_running_task_back_to_another_worker(engines: Engines) -> None:
    world = engines.world
    user, repo = await world.user_with_repository(credits=5_000)
    task = (await world.submit(user, repo)).task
    leaving = ScriptedTaskRunner(((WaitForCancel(),),))
    async with running(engines.worker(leaving, "leaving")):
        await asyncio.wait_for(leaving.started.wait(), 20)
    back = await _task(world, task.id)
    assert (back.status, back.attempt) == (TaskStatus.QUEUED, 0)  # handed back, its attempt given back
    assert (await _account(world, user.id))[1] > 0  # still held for the next run
    async with running(engines.worker(ScriptedTaskRunner(((Log("finishing"),),)), "next")):

        async def settled() -> bool:
            return (await _task(world, task.id)).settled_credits is not None

        await _until(settled, 20, "the handed-back task did not run again")
    done = await _task(world, task.id)
    assert (done.status, done.attempt, done.worker_id) == (TaskStatus.SUCCEEDED, 1, "next")
    assert (await _account(world, user.id))[1] == 0
    if engines.name == "procrastinate":  # the one job was rescheduled, not lost nor duplicated
        assert await engines.jobs() == [("asynccoder.run_task", "succeeded")]


async def test_a_database_hiccup_before_the_claim_leaves_the_task_to_run_later(engines: Engines) -> None:
    world = engines.world
    user, repo = await world.user_with_repository(credits=5_000)
    task = (await world.submit(user, repo)).task
    real = world.services
    failures = [Unavailable("The database connection was lost; try again.")]

    @contextlib.asynccontextmanager
    async def flaky() -> AsyncIterator[Any]:
        if failures:
            raise failures.pop()
        async with real() as services:
            yield services

    world.services = flaky  # type: ignore[method-assign]
    async with running(engines.worker(ScriptedTaskRunner(((Log("ran"),),)), maintenance_interval=1.0)):

        async def settled() -> bool:
            return (await _task(world, task.id)).settled_credits is not None

        await _until(settled, 20, "the task was left behind after a failed claim")
    assert not failures  # the hiccup happened
    done = await _task(world, task.id)
    assert (done.status, done.attempt) == (TaskStatus.SUCCEEDED, 1)
