"""The queue port: where a submitted task's job is recorded for the workers that will run it."""

from __future__ import annotations

from typing import Protocol

from asynccoder.application.ports.uow import UnitOfWork
from asynccoder.domain.tasks import Task


class TaskQueue(Protocol):
    """Records a queued task's job inside the caller's unit of work."""

    async def enqueue(self, uow: UnitOfWork, task: Task) -> None:
        """Writes the job in ``uow``'s transaction, so it commits or rolls back with the task row. A writing
        task's job carries its repository's lock (two never run at once); a task has at most one waiting job
        (enqueueing it again is a no-op)."""
        ...


class TasksTableQueue(TaskQueue):
    """The in-process engine's queue (``ASYNCCODER_TASK_QUEUE=inprocess``): the tasks table itself. The queued
    row *is* the job (workers claim it by conditional update), so enqueueing writes nothing more."""

    async def enqueue(self, uow: UnitOfWork, task: Task) -> None:
        return None


TASKS_TABLE_QUEUE = TasksTableQueue()
