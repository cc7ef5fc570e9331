"""Publishing task events: append in the caller's transaction, notify live readers after the commit."""

from __future__ import annotations

import logging
from typing import Any
from uuid import UUID

from asynccoder.application.outbound_webhooks.outbox import publish_task_status
from asynccoder.application.ports.events import TaskEvent, TaskEventNotifier, TaskEventType
from asynccoder.application.ports.metrics import NO_METRICS, Metrics
from asynccoder.application.ports.system import Clock
from asynccoder.application.ports.uow import UnitOfWork
from asynccoder.domain.tasks import Task

log = logging.getLogger("asynccoder.tasks.events")


def status_data(task: Task) -> dict[str, Any]:
    """The payload of a status event (what a watcher needs to redraw the task)."""
    return {
        "status": task.status.value,
        "attempt": task.attempt,
        "failure_reason": task.failure_reason.value if task.failure_reason else None,
        "failure_message": task.failure_message,
    }


class TaskEvents:
    """Appends events inside a unit of work and remembers them; ``flush`` notifies after the commit.

    Notifying is best effort (readers also poll), so a failure to notify never undoes a committed change.
    Status events are the task's transitions: ``flush`` also counts them (``Metrics.task_transitioned``), so
    only committed transitions are counted.
    """

    def __init__(self, notifier: TaskEventNotifier, clock: Clock, metrics: Metrics = NO_METRICS) -> None:
        self._notifier, self._clock, self._metrics = notifier, clock, metrics
        self._pending: dict[UUID, int] = {}
        self._transitions: list[tuple[str, str]] = []

    async def append(
        self, uow: UnitOfWork, task_id: UUID, type: TaskEventType, data: dict[str, Any]
    ) -> TaskEvent:
        event = await uow.task_events.append(task_id, type, data, self._clock.now())
        self._pending[task_id] = max(self._pending.get(task_id, 0), event.seq)
        return event

    async def status(self, uow: UnitOfWork, task_id: UUID) -> None:
        task = await uow.tasks.get(task_id)
        if task is not None:
            event = await self.append(uow, task_id, TaskEventType.STATUS, status_data(task))
            self._transitions.append((task.mode.value, task.status.value))
            await publish_task_status(uow, task, event.created_at, event.seq)  # the outbound webhook

    def discard(self) -> None:
        """Forget events of a rolled-back block."""
        self._pending.clear()
        self._transitions.clear()

    async def flush(self) -> None:
        transitions, self._transitions = self._transitions, []
        for mode, status in transitions:
            self._metrics.task_transitioned(mode, status)
        pending, self._pending = self._pending, {}
        for task_id, seq in pending.items():
            try:
                await self._notifier.notify(task_id, seq)
            except Exception:
                log.warning("could not notify watchers of task %s", task_id, exc_info=True)
