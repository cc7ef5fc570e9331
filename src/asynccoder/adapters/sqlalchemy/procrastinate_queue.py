"""The procrastinate engine (``ASYNCCODER_TASK_QUEUE=procrastinate``, PostgreSQL only).

Enqueue: the job INSERT runs on the psycopg connection under the unit of work's SQLAlchemy connection, so it
is part of the submit's transaction: a rolled-back submit leaves no job, a committed one exactly one. Writing
tasks share the lock ``repository:<id>`` (procrastinate never runs two jobs with one lock at once); every job
has the queueing lock ``task:<id>`` (at most one waiting job per task).

Work: a procrastinate worker whose job ``asynccoder.run_task`` runs ``TaskWorker.run_task`` -- the in-process
engine's own attempt (claim the row by conditional update, heartbeats, cancel/timeout signal, settle); the
tasks table stays the source of truth. When the task is due again (a transient failure's backoff, a shutdown
hand-back, a claim refused for now) the job raises ``TaskDue`` and its ``RetryStrategy`` (``retry_exceptions``
= ``TaskDue`` only) reschedules it for then -- also when the job could not reach the tasks table at
all (a database hiccup: the row is untouched, so the job must not end while its task waits); the task's
``max_attempts`` bounds the retries. A task cancelled while it ran ends its job ``aborted``. The periodic job
``asynccoder.maintain`` (every ``maintenance_interval``, deferred once per tick across all workers by
procrastinate's periodic deferrer) runs ``TaskWorker.maintain`` (stale sweep, settle, expire holds, triggers,
housekeeping) and puts the jobs of stalled procrastinate workers (no heartbeat for ``stale_after``) back to
``todo``, so a SIGKILLed worker's task runs again within ``stale_after`` + 2 x ``maintenance_interval``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import procrastinate
from procrastinate import exceptions as procrastinate_errors
from procrastinate.retry import RetryDecision

from asynccoder.adapters.sqlalchemy.uow import SqlAlchemyUnitOfWork
from asynccoder.application.ports.task_queue import TaskQueue
from asynccoder.application.ports.uow import UnitOfWork
from asynccoder.application.tasks.engine import EngineConfig, TaskWorker
from asynccoder.domain.tasks import Task, TaskStatus

log = logging.getLogger("asynccoder.tasks.procrastinate")

RUN_TASK = "asynccoder.run_task"
MAINTAIN = "asynccoder.maintain"
QUEUE = "tasks"
MAINTENANCE_QUEUE = "maintenance"


class TaskDue(Exception):
    """The job's task is due again at ``at`` (the job is retried then)."""

    def __init__(self, at: datetime) -> None:
        super().__init__(f"due again at {at.isoformat()}")
        self.at = at


class RetryWhenDue(procrastinate.RetryStrategy):
    """Retries only on ``TaskDue``, at the time the engine's rules gave (``retry_backoff`` and friends)."""

    def get_retry_decision(self, *, exception: BaseException, job: Any) -> RetryDecision | None:
        if super().get_retry_decision(exception=exception, job=job) is None or not isinstance(
            exception, TaskDue
        ):
            return None
        return RetryDecision(retry_at=exception.at)


def repository_lock(repository_id: UUID) -> str:
    return f"repository:{repository_id}"


def task_queueing_lock(task_id: UUID) -> str:
    return f"task:{task_id}"


def procrastinate_conninfo(database_url: str) -> str:
    """libpq's form of a ``postgresql+psycopg://`` URL."""
    return "postgresql://" + database_url.split("://", 1)[1]


def procrastinate_app(
    conninfo: str, worker: TaskWorker | None = None, *, pool_size: int = 4
) -> procrastinate.App:
    """The procrastinate app; with ``worker`` its jobs run on that worker (else the app only defers)."""
    app = procrastinate.App(
        connector=procrastinate.PsycopgConnector(conninfo=conninfo, min_size=1, max_size=pool_size)
    )
    interval = max(1, round(worker.config.maintenance_interval)) if worker else 5

    @app.task(name=RUN_TASK, queue=QUEUE, retry=RetryWhenDue(retry_exceptions={TaskDue}))
    async def run_task(task_id: str) -> None:
        if worker is None:
            raise RuntimeError("this procrastinate app only defers jobs")
        try:
            due = await worker.run_task(UUID(task_id))
        except Exception:  # the claim's or the read's database step failed: the row is untouched, so later
            log.exception("task %s: its job could not reach the tasks table; retrying", task_id)
            due = worker.clock.now() + timedelta(seconds=worker.config.maintenance_interval)
        if due is not None:
            raise TaskDue(due)
        async with worker.scope() as services, services.uow as uow:
            task = await uow.tasks.get(UUID(task_id))
        if task is not None and task.status is TaskStatus.CANCELLED:
            raise procrastinate_errors.JobAborted("the task was cancelled")

    @app.periodic(cron=f"* * * * * */{interval}", periodic_id="maintenance")
    @app.task(name=MAINTAIN, queue=MAINTENANCE_QUEUE, queueing_lock="maintenance")
    async def maintain(timestamp: int) -> None:
        if worker is None:
            raise RuntimeError("this procrastinate app only defers jobs")
        await worker.maintain()
        stale = worker.config.stale_after.total_seconds()
        for job in await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=stale):
            await app.job_manager.retry_job(job)

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


class ProcrastinateWorker:
    """``TaskWorker``'s loop replaced by a procrastinate worker: same ``config``, ``run()`` and ``stop()``.

    ``stop()`` hands running tasks back as the in-process engine does (their jobs are retried right away by
    whichever worker is left)."""

    def __init__(self, worker: TaskWorker, database_url: str) -> None:
        self.engine = worker
        self.config: EngineConfig = worker.config
        pool = worker.config.concurrency + 3  # jobs' deferrals, fetch, listen/notify, heartbeat
        self.app = procrastinate_app(procrastinate_conninfo(database_url), worker, pool_size=pool)
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        config = self.config
        stale = config.stale_after.total_seconds()
        async with self.app.open_async():
            job = asyncio.ensure_future(
                self.app.run_worker_async(
                    queues=[QUEUE, MAINTENANCE_QUEUE],
                    name=config.worker_id,
                    concurrency=config.concurrency + 1,  # + the maintenance job
                    install_signal_handlers=False,
                    fetch_job_polling_interval=config.poll_interval * 4,
                    abort_job_polling_interval=config.heartbeat_interval,
                    update_heartbeat_interval=max(0.5, min(10.0, stale / 3)),
                    stalled_worker_timeout=stale,
                    shutdown_graceful_timeout=config.shutdown_grace + config.stop_grace,
                )
            )
            stop = asyncio.ensure_future(self._stopping.wait())
            try:
                await asyncio.wait({job, stop}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                stop.cancel()
                self.engine.hand_back_running()
                job.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await job
