"""The task engine against PostgreSQL with real concurrent connections and real worker processes."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from asynccoder.adapters.sqlalchemy.database import create_engine
from asynccoder.adapters.sqlalchemy.uow import SqlAlchemyUnitOfWork
from asynccoder.adapters.system.clock import SystemClock
from asynccoder.application.ports.task_execution import TaskExecution, TaskOutcome
from asynccoder.domain.ai import ModelTier
from asynccoder.domain.billing import InsufficientCredits
from asynccoder.domain.tasks import TaskMode, TaskResult, TaskStatus
from tests.support.databases import Databases
from tests.support.task_engine import EngineWorld, ScriptedTaskRunner, WaitForCancel
from tests.support.worker_process import MODEL as CRASH_MODEL

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def small_pool(databases: Databases) -> AsyncIterator[AsyncEngine]:
    """A clean PostgreSQL database behind a small pool: the shared server has few connections to spare,
    and 8 concurrent connections are plenty to race."""
    shared = await databases.clean_engine("postgres")
    await shared.dispose()  # give its idle connections back
    engine = create_engine(databases.url("postgres"), pool_size=4)
    yield engine
    await engine.dispose()


@pytest.fixture
async def world(small_pool: AsyncEngine) -> EngineWorld:
    w = EngineWorld(lambda: SqlAlchemyUnitOfWork(small_pool), SystemClock())
    await w.seed()
    await _lift_free_plan_limit(w, 100)
    return w


async def _lift_free_plan_limit(world: EngineWorld, limit: int) -> None:
    async with world.new_uow() as uow:
        free = await uow.billing_catalogue.get_plan_by_code("free")
        assert free is not None
        await uow.billing_catalogue.save_plan(dataclasses.replace(free, max_concurrent_tasks=limit))
        await uow.commit()


async def _account(world: EngineWorld, user_id) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    async with world.new_uow() as uow:
        account = await uow.credits.get_account(user_id)
    return account.available, account.held


async def test_twenty_concurrent_submits_with_credit_for_ten_accept_exactly_ten(world: EngineWorld) -> None:
    user, repo = await world.user_with_repository(credits=1_000)

    async def submit() -> str:
        try:
            await world.submit(user, repo, budget_cap_credits=100)
        except InsufficientCredits:
            return "402"
        return "202"

    results = await asyncio.gather(*(submit() for _ in range(20)))
    assert sorted(results) == ["202"] * 10 + ["402"] * 10
    assert await _account(world, user.id) == (0, 1_000)
    async with world.new_uow() as uow:
        assert await uow.tasks.count_active(user.id) == 10


async def test_duplicate_submits_with_one_idempotency_key_make_one_task(world: EngineWorld) -> None:
    user, repo = await world.user_with_repository(credits=5_000)
    submitted = await asyncio.gather(
        *(world.submit(user, repo, idempotency_key="same-key", budget_cap_credits=100) for _ in range(12))
    )
    assert len({s.task.id for s in submitted}) == 1
    assert sum(not s.replayed for s in submitted) == 1
    assert await _account(world, user.id) == (4_900, 100)


@dataclasses.dataclass
class IntervalRunner:
    """Records when each attempt ran (wall clock), after yielding to let other tasks interleave."""

    intervals: list[tuple[str, datetime, datetime]] = dataclasses.field(default_factory=list)

    async def run(self, execution: TaskExecution) -> TaskOutcome:
        start = datetime.now().astimezone()
        for _ in range(5):
            await asyncio.sleep(0.01)  # the work: lets other workers try to claim meanwhile
        self.intervals.append((execution.mode.value, start, datetime.now().astimezone()))
        return TaskOutcome(result=TaskResult("done"))


async def test_writing_tasks_on_one_repository_never_overlap_across_workers(world: EngineWorld) -> None:
    user, repo = await world.user_with_repository(credits=100_000)
    modes = [TaskMode.DEBUG, TaskMode.DOCUMENTATION] * 4 + [TaskMode.ASK] * 4
    tasks = [(await world.submit(user, repo, mode=mode, budget_cap_credits=100)).task for mode in modes]
    runner = IntervalRunner()
    workers = [world.worker(runner, f"w{i}", concurrency=3, poll_interval=0.01) for i in range(3)]
    loops = [asyncio.ensure_future(w.run()) for w in workers]
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while len(runner.intervals) < len(tasks):
            assert loop.time() < deadline, runner.intervals
            await asyncio.sleep(0.05)
    finally:
        for w in workers:
            w.stop()
        await asyncio.gather(*loops)
    writing = sorted((s, e) for mode, s, e in runner.intervals if mode != "ask")
    assert len(writing) == 8
    for (_, end), (next_start, _) in itertools.pairwise(writing):
        assert end <= next_start, "two writing tasks on one repository overlapped"
    async with world.new_uow() as uow:
        statuses = {(await uow.tasks.get(t.id)).status for t in tasks}  # type: ignore[union-attr]
    assert statuses == {TaskStatus.SUCCEEDED}


async def test_a_cancelled_running_task_stops_within_five_seconds_with_credits_released(
    world: EngineWorld,
) -> None:
    user, repo = await world.user_with_repository(credits=5_000)
    task = (await world.submit(user, repo)).task
    runner = ScriptedTaskRunner(((WaitForCancel(),),))
    worker = world.worker(runner, heartbeat_interval=1.0)
    loop_job = asyncio.ensure_future(worker.run())
    try:
        await asyncio.wait_for(runner.started.wait(), 10)
        await world.cancel_use_case()(user.as_actor(), task.id)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 5
        while await _account(world, user.id) != (5_000, 0):
            assert loop.time() < deadline, "not stopped and released within 5 s"
            await asyncio.sleep(0.05)
    finally:
        worker.stop()
        await loop_job
    async with world.new_uow() as uow:
        done = await uow.tasks.get(task.id)
    assert done is not None
    assert (done.status, done.settled_credits) == (TaskStatus.CANCELLED, 0)


@pytest.fixture
async def crash_world(databases: Databases, small_pool: AsyncEngine) -> tuple[EngineWorld, str]:
    w = EngineWorld(lambda: SqlAlchemyUnitOfWork(small_pool), SystemClock())
    # The worker process runs the real container: the Free plan's tiers decide, so the model is economy.
    w.model = dataclasses.replace(w.model, model_name=CRASH_MODEL, tier=ModelTier.ECONOMY)
    await w.seed()
    await _lift_free_plan_limit(w, 100)
    return w, databases.url("postgres")


async def test_a_worker_killed_mid_task_leaves_nothing_stuck_and_nothing_held(
    crash_world: tuple[EngineWorld, str], tmp_path: Path
) -> None:
    world, url = crash_world
    errors = (tmp_path / "worker.stderr").open("wb")
    user, repo = await world.user_with_repository(credits=5_000)
    tasks = [(await world.submit(user, repo, budget_cap_credits=500)).task for _ in range(3)]
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.support.worker_process", url],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=errors,
    )
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60

        async def running_with_usage() -> int:
            async with world.new_uow() as uow:
                n = 0
                for t in tasks:
                    current = await uow.tasks.get(t.id)
                    if (
                        current
                        and current.status is TaskStatus.RUNNING
                        and await uow.task_usage.list_for_task(t.id)
                    ):
                        n += 1
                return n

        while await running_with_usage() < 3:
            assert process.poll() is None, (tmp_path / "worker.stderr").read_text()[-3000:]
            assert loop.time() < deadline, (tmp_path / "worker.stderr").read_text()[-3000:]
            await asyncio.sleep(0.1)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
        errors.close()
    assert (await _account(world, user.id))[1] == 1_500  # held while nobody finishes them

    # A surviving worker (here: in the test process) recovers them once their heartbeat is stale.
    survivor = world.worker(ScriptedTaskRunner(((),)), "survivor", stale_after=timedelta(seconds=1))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    recovered = 0
    while recovered < 3:
        assert loop.time() < deadline, "stale tasks were not recovered"
        recovered += await survivor.recover_stale()
        await asyncio.sleep(0.2)
    while await survivor.run_one() is not None:
        pass
    async with world.new_uow() as uow:
        ended = [await uow.tasks.get(t.id) for t in tasks]
    assert {(t.status, t.attempt) for t in ended if t} == {(TaskStatus.SUCCEEDED, 2)}
    available, held = await _account(world, user.id)
    charged = sum(t.settled_credits or 0 for t in ended if t)
    assert (available, held) == (5_000 - charged, 0)
    assert charged > 0  # the killed attempts' model calls are still paid for, once
