"""The procrastinate task queue on PostgreSQL: the job is deferred in the submit's own transaction, writing
tasks share their repository's lock, and a task never has two waiting jobs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from asynccoder.adapters.sqlalchemy import migrations_runner
from asynccoder.adapters.sqlalchemy.database import create_engine
from asynccoder.adapters.sqlalchemy.procrastinate_queue import (
    RUN_TASK,
    ProcrastinateTaskQueue,
    procrastinate_app,
)
from asynccoder.adapters.sqlalchemy.uow import SqlAlchemyUnitOfWork
from asynccoder.domain.tasks import Task, TaskMode
from tests.support.services import scratch_postgres_database
from tests.support.tasks import make_task, seed_owner

pytestmark = pytest.mark.postgres


@pytest.fixture
async def engine() -> AsyncIterator[AsyncEngine]:
    with scratch_postgres_database("asynccoder_queue") as url:
        migrations_runner.upgrade(url)
        engine = create_engine(url, pool_size=2)
        try:
            yield engine
        finally:
            await engine.dispose()


def _queue() -> ProcrastinateTaskQueue:
    return ProcrastinateTaskQueue(procrastinate_app("postgresql://unused"))  # defers only: no worker


async def _submit(engine: AsyncEngine, task: Task, *, commit: bool = True) -> None:
    async with SqlAlchemyUnitOfWork(engine) as uow:
        await uow.tasks.add(task)
        await _queue().enqueue(uow, task)
        if commit:
            await uow.commit()


async def _jobs(engine: AsyncEngine) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.text(
                "SELECT task_name, queue_name, lock, queueing_lock, args, status::text AS status"
                " FROM procrastinate_jobs ORDER BY id"
            )
        )
        return [dict(row._mapping) for row in rows]


async def test_a_rolled_back_submit_leaves_no_job_and_a_committed_one_exactly_one(
    engine: AsyncEngine,
) -> None:
    (alice,), (repo,) = await seed_owner(lambda: SqlAlchemyUnitOfWork(engine))
    lost = make_task(alice.id, repo.id)
    await _submit(engine, lost, commit=False)
    assert await _jobs(engine) == []
    kept = make_task(alice.id, repo.id)
    await _submit(engine, kept)
    assert await _jobs(engine) == [
        {
            "task_name": RUN_TASK,
            "queue_name": "tasks",
            "lock": None,  # an ask task writes nothing: no repository lock
            "queueing_lock": f"task:{kept.id}",
            "args": {"task_id": str(kept.id)},
            "status": "todo",
        }
    ]


async def test_writing_tasks_carry_their_repositorys_lock(engine: AsyncEngine) -> None:
    (alice,), (repo, other) = await seed_owner(lambda: SqlAlchemyUnitOfWork(engine), repositories=2)
    tasks = [
        make_task(alice.id, repo.id, mode=TaskMode.DEBUG),
        make_task(alice.id, repo.id, mode=TaskMode.DOCUMENTATION, concurrency_limit=5),
        make_task(alice.id, other.id, mode=TaskMode.DEBUG, concurrency_limit=5),
    ]
    for task in tasks:
        await _submit(engine, task)
    assert [job["lock"] for job in await _jobs(engine)] == [
        f"repository:{repo.id}",
        f"repository:{repo.id}",
        f"repository:{other.id}",
    ]


async def test_enqueueing_a_task_again_keeps_one_waiting_job_and_the_transaction(engine: AsyncEngine) -> None:
    (alice,), (repo,) = await seed_owner(lambda: SqlAlchemyUnitOfWork(engine))
    task = make_task(alice.id, repo.id)
    await _submit(engine, task)
    async with SqlAlchemyUnitOfWork(engine) as uow:
        await _queue().enqueue(uow, task)  # refused by the queueing lock, inside a savepoint
        assert await uow.tasks.get(task.id) == task  # the transaction is still usable
        await uow.commit()
    assert [job["queueing_lock"] for job in await _jobs(engine)] == [f"task:{task.id}"]
