"""Wiring of the task engine: task use cases (REQUEST scope), the event notifier and runner (APP scope), and
``make_task_worker`` which builds a worker whose every step runs in its own REQUEST scope."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from dishka import AsyncContainer, Provider, Scope, provide, provide_all

from asynccoder.adapters.memory.tasks import InMemoryTaskEventNotifier
from asynccoder.application.ai.call_model import CallModelForUser
from asynccoder.application.ai.selection import SelectModelsForUser
from asynccoder.application.billing.credits import ExpireHolds, ExtendHold
from asynccoder.application.code_hosting.repositories import UserTokens
from asynccoder.application.ports.ai import TierEntitlements
from asynccoder.application.ports.events import TaskEventNotifier
from asynccoder.application.ports.system import Clock, IdGenerator
from asynccoder.application.ports.task_execution import TaskRunner
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
from asynccoder.application.tasks.single_turn import SingleTurnRunner
from asynccoder.application.tasks.submit import SubmitTask, TaskPolicy
from asynccoder.ioc.settings import Settings


class TasksProvider(Provider):
    """Task use cases and the engine's collaborators.

    The notifier here is in-process (one API process with an embedded worker); a multi-process deployment
    overrides ``TaskEventNotifier`` with the channels-backed one. The runner is ``SingleTurnRunner`` until the
    coding agent overrides ``TaskRunner``.
    """

    @provide(scope=Scope.APP)
    def notifier(self) -> TaskEventNotifier:
        return InMemoryTaskEventNotifier()

    @provide(scope=Scope.APP)
    def runner(self) -> TaskRunner:
        return SingleTurnRunner()

    @provide(scope=Scope.APP)
    def policy(self, settings: Settings) -> TaskPolicy:
        return TaskPolicy(max_attempts=settings.task_max_attempts)

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
    ) -> SubmitTask:
        return SubmitTask(uow, clock, ids, tiers, select, notifier, policy)

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
    ) -> TaskServices:
        return TaskServices(uow, call_model, settle, settle_ended, extend_hold, expire_holds, tokens)


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

    return TaskWorker(
        scope,
        await container.get(TaskRunner),
        await container.get(TaskEventNotifier),
        await container.get(Clock),
        await container.get(IdGenerator),
        engine_config(settings),
    )


__all__ = ["TasksProvider", "make_task_worker"]
