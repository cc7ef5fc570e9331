"""The task queue on procrastinate (PostgreSQL only): jobs deferred on the caller's own connection.

The job INSERT runs on the psycopg connection under the unit of work's SQLAlchemy connection, so it is part
of the submit's transaction: a rolled-back submit leaves no job, a committed one exactly one. Writing tasks
share the lock ``repository:<id>`` (procrastinate never runs two jobs with one lock at once); every job has
the queueing lock ``task:<id>`` (at most one waiting job per task).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID

import procrastinate
from procrastinate import exceptions as procrastinate_errors

from asynccoder.adapters.sqlalchemy.uow import SqlAlchemyUnitOfWork
from asynccoder.application.ports.task_queue import TaskQueue
from asynccoder.application.ports.uow import UnitOfWork
from asynccoder.domain.tasks import Task

RUN_TASK = "asynccoder.run_task"
QUEUE = "tasks"

RunTask = Callable[[UUID], Awaitable[None]]


def repository_lock(repository_id: UUID) -> str:
    return f"repository:{repository_id}"


def task_queueing_lock(task_id: UUID) -> str:
    return f"task:{task_id}"


def procrastinate_app(conninfo: str, run: RunTask) -> procrastinate.App:
    """The procrastinate app with the one job the engine defers: run the task ``task_id`` through ``run``."""
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=conninfo))

    @app.task(name=RUN_TASK, queue=QUEUE)
    async def run_task(task_id: str) -> None:
        await run(UUID(task_id))

    return app


class ProcrastinateTaskQueue(TaskQueue):
    def __init__(self, app: procrastinate.App) -> None:
        self._task: Any = app.tasks[RUN_TASK]

    async def enqueue(self, uow: UnitOfWork, task: Task) -> None:
        if not isinstance(uow, SqlAlchemyUnitOfWork):
            raise TypeError("the procrastinate queue defers on a SQLAlchemy unit of work's connection")
        raw = await uow.connection.get_raw_connection()
        deferrer = self._task.configure(
            lock=repository_lock(task.repository_id) if task.writes else None,
            queueing_lock=task_queueing_lock(task.id),
            priority=task.priority_class * 100 + task.priority,
            connection=raw.driver_connection,
        )
        try:
            # A savepoint: a refused INSERT (the task already has its waiting job) must not abort the
            # caller's transaction.
            async with uow.connection.begin_nested():
                await deferrer.defer_async(task_id=str(task.id))
        except procrastinate_errors.AlreadyEnqueued:
            return
