"""Wiring of the task engine: task use cases (REQUEST scope), the event notifier and runner (APP scope), and
``make_task_worker`` which builds a worker whose every step runs in its own REQUEST scope."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Protocol
from uuid import UUID

from dishka import AsyncContainer, Provider, Scope, provide, provide_all

from asynccoder.application.ai.call_model import CallModelForUser
from asynccoder.application.ai.selection import SelectModelsForUser
from asynccoder.application.billing.credits import ExpireHolds, ExtendHold
from asynccoder.application.code_hosting.repositories import UserTokens
from asynccoder.application.code_hosting.webhooks import PruneGitHubDeliveries
from asynccoder.application.ports.ai import TierEntitlements
from asynccoder.application.ports.code_hosting import CodeHost
from asynccoder.application.ports.events import TaskEvent, TaskEventAccess, TaskEventNotifier
from asynccoder.application.ports.metrics import Metrics
from asynccoder.application.ports.system import Clock, IdGenerator
from asynccoder.application.ports.task_execution import TaskRunner
from asynccoder.application.ports.task_queue import TASKS_TABLE_QUEUE, TaskQueue
from asynccoder.application.ports.uow import UnitOfWork
from asynccoder.application.tasks.engine import EngineConfig, TaskServices, TaskWorker
from asynccoder.application.tasks.manage import (
    CancelTask,
    GetTask,
    GetTaskReceipt,
    ListTaskLogs,
    ListTasks,
    TaskAnalytics,
    UpdateTask,
)
from asynccoder.application.tasks.settlement import SettleEndedTasks, SettleTask
from asynccoder.application.tasks.streaming import TaskEventReader
from asynccoder.application.tasks.submit import SubmitTask, TaskPolicy
from asynccoder.application.tasks.triggers import ProcessRepositoryEvents, TriggerPolicy
from asynccoder.domain.identity import Actor
from asynccoder.ioc.settings import Settings


class TasksProvider(Provider):
    """Task use cases and the engine's collaborators.

    The notifier is ``TaskEventsProvider``'s channels-backed one (memory, Redis or PostgreSQL), so a stream on
    any API process sees what any worker does. The ``TaskRunner`` is the coding agent (``ioc/agent.py``).
    """

    @provide(scope=Scope.APP)
    def event_reader(self, container: AsyncContainer) -> TaskEventReader:
        return ScopedTaskEventReader(container)

    @provide(scope=Scope.APP)
    def event_access(self, container: AsyncContainer) -> TaskEventAccess:
        return ScopedTaskEventAccess(container)

    @provide(scope=Scope.APP)
    def policy(self, settings: Settings) -> TaskPolicy:
        return TaskPolicy(
            max_attempts=settings.task_max_attempts,
            byok_platform_fee_credits=settings.task_byok_platform_fee_credits,
        )

    @provide(scope=Scope.APP)
    def queue(self, settings: Settings) -> TaskQueue:
        """``ASYNCCODER_TASK_QUEUE``: the tasks table (in-process engine) or procrastinate's jobs."""
        if settings.task_queue == "procrastinate":
            from asynccoder.adapters.sqlalchemy.procrastinate_queue import (
                ProcrastinateTaskQueue,
                procrastinate_app,
                procrastinate_conninfo,
            )

            return ProcrastinateTaskQueue(procrastinate_app(procrastinate_conninfo(settings.database_url)))
        return TASKS_TABLE_QUEUE

    @provide(scope=Scope.REQUEST)
    def submit(
        self,
        uow: UnitOfWork,
        clock: Clock,
        ids: IdGenerator,
        tiers: TierEntitlements,
        select: SelectModelsForUser,
        notifier: TaskEventNotifier,
        policy: TaskPolicy,
        code_host: CodeHost,
        tokens: UserTokens,
        metrics: Metrics,
        queue: TaskQueue,
    ) -> SubmitTask:
        return SubmitTask(uow, clock, ids, tiers, select, notifier, policy, code_host, tokens, metrics, queue)

    @provide(scope=Scope.APP)
    def trigger_policy(self, settings: Settings) -> TriggerPolicy:
        return TriggerPolicy(
            task_url_base=f"{settings.public_base_url.rstrip('/')}/api/v1/tasks",
            daily_cap_per_repository=settings.trigger_daily_cap_per_repository,
        )

    @provide(scope=Scope.REQUEST)
    def triggers(
        self,
        uow: UnitOfWork,
        clock: Clock,
        submit: SubmitTask,
        code_host: CodeHost,
        tokens: UserTokens,
        policy: TriggerPolicy,
    ) -> ProcessRepositoryEvents:
        return ProcessRepositoryEvents(uow, clock, submit, code_host, tokens, policy)

    use_cases = provide_all(
        GetTask,
        ListTasks,
        UpdateTask,
        CancelTask,
        ListTaskLogs,
        GetTaskReceipt,
        TaskAnalytics,
        SettleTask,
        SettleEndedTasks,
        scope=Scope.REQUEST,
    )

    @provide(scope=Scope.REQUEST)
    def services(
        self,
        uow: UnitOfWork,
        call_model: CallModelForUser,
        settle: SettleTask,
        settle_ended: SettleEndedTasks,
        extend_hold: ExtendHold,
        expire_holds: ExpireHolds,
        tokens: UserTokens,
        triggers: ProcessRepositoryEvents,
        prune_deliveries: PruneGitHubDeliveries,
    ) -> TaskServices:
        return TaskServices(
            uow,
            call_model,
            settle,
            settle_ended,
            extend_hold,
            expire_holds,
            tokens,
            triggers,
            housekeeping=(prune_deliveries,),
        )


class ScopedTaskEventReader(TaskEventReader):
    """Reads a task's events in a short unit of work of its own per call: a stream lives for minutes and must
    not hold a connection between reads."""

    def __init__(self, container: AsyncContainer) -> None:
        self._container = container

    async def list_after(self, task_id: UUID, after_seq: int, *, limit: int) -> list[TaskEvent]:
        async with self._container(scope=Scope.REQUEST) as request:
            uow: UnitOfWork = await request.get(UnitOfWork)
            async with uow:
                return await uow.task_events.list_after(task_id, after_seq, limit=limit)


class ScopedTaskEventAccess(TaskEventAccess):
    """The task's owner or an admin may watch it; an unknown task is nobody's."""

    def __init__(self, container: AsyncContainer) -> None:
        self._container = container

    async def can_watch(self, actor: Actor, task_id: UUID) -> bool:
        async with self._container(scope=Scope.REQUEST) as request:
            uow: UnitOfWork = await request.get(UnitOfWork)
            async with uow:
                task = await uow.tasks.get(task_id)
        return task is not None and (task.user_id == actor.user_id or actor.is_admin)


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def engine_config(settings: Settings) -> EngineConfig:
    return EngineConfig(
        worker_id=worker_id(),
        concurrency=settings.worker_concurrency,
        wall_clock_limit=timedelta(seconds=settings.task_time_limit_seconds),
        stale_after=timedelta(seconds=settings.task_stale_after_seconds),
    )


async def make_task_worker(container: AsyncContainer, settings: Settings) -> TaskWorker:
    """A worker over ``container``: each engine step gets a fresh REQUEST scope (its own unit of work)."""

    @asynccontextmanager
    async def scope() -> AsyncIterator[TaskServices]:
        async with container(scope=Scope.REQUEST) as request:
            yield await request.get(TaskServices)

    runner = await container.get(TaskRunner)
    if settings.otlp_endpoint is not None:
        from asynccoder.adapters.observability.tracing import TracedTaskRunner  # only with tracing on

        runner = TracedTaskRunner(runner)
    return TaskWorker(
        scope,
        runner,
        await container.get(TaskEventNotifier),
        await container.get(Clock),
        await container.get(IdGenerator),
        engine_config(settings),
        await container.get(Metrics),
    )


class WorkerLoop(Protocol):
    """What ``asynccoder worker`` and the embedded worker run: ``TaskWorker`` or ``ProcrastinateWorker``."""

    @property
    def config(self) -> EngineConfig: ...

    async def run(self) -> None: ...

    def stop(self) -> None: ...


async def make_worker_loop(container: AsyncContainer, settings: Settings) -> WorkerLoop:
    """The worker of the chosen engine (``ASYNCCODER_TASK_QUEUE``), over ``make_task_worker``'s engine."""
    worker = await make_task_worker(container, settings)
    if settings.task_queue == "procrastinate":
        from asynccoder.adapters.sqlalchemy.procrastinate_queue import ProcrastinateWorker

        return ProcrastinateWorker(worker, settings.database_url)
    return worker


__all__ = ["TasksProvider", "WorkerLoop", "make_task_worker", "make_worker_loop"]
