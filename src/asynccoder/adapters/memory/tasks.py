"""In-memory tasks, task usage and task events (and an in-process event notifier for tests and embedding)."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from uuid import UUID

from asynccoder.adapters.memory.store import InMemoryStore
from asynccoder.application.ports.events import (
    TaskEvent,
    TaskEventRepository,
    TaskEventType,
)
from asynccoder.application.ports.tasks import (
    DailyTaskUsage,
    StatusModeCount,
    TaskFilter,
    TaskRepository,
    TaskUsage,
    TaskUsageRepository,
    daily_task_usage,
)
from asynccoder.domain.tasks import (
    ConcurrencyLimitReached,
    FailureReason,
    Task,
    TaskIdempotencyKeyTaken,
    TaskResult,
    TaskStatus,
    fair_order,
)


@dataclass
class TasksState:
    tasks: dict[UUID, Task] = field(default_factory=dict)
    usage: list[TaskUsage] = field(default_factory=list)
    events: dict[UUID, list[TaskEvent]] = field(default_factory=dict)
    repository_locks: dict[UUID, UUID] = field(default_factory=dict)  # repository id -> task id


def tasks_state(store: InMemoryStore) -> TasksState:
    state = store.state.extra.get("tasks")
    if state is None:
        state = store.state.extra["tasks"] = TasksState()
    assert isinstance(state, TasksState)
    return state


_ACTIVE = (TaskStatus.QUEUED, TaskStatus.RUNNING)


class InMemoryTaskRepository(TaskRepository):
    def __init__(self, store: InMemoryStore) -> None:
        self._store = store

    @property
    def _s(self) -> TasksState:
        return tasks_state(self._store)

    async def add(self, task: Task) -> None:
        if task.id in self._s.tasks:
            raise ValueError("duplicate task id")
        if task.idempotency_key is not None and await self.find_by_idempotency_key(
            task.user_id, task.idempotency_key
        ):
            raise TaskIdempotencyKeyTaken("This idempotency key was used for another task.")
        if await self.count_active(task.user_id) >= task.concurrency_limit:
            raise ConcurrencyLimitReached(
                "You already have as many active tasks as your plan allows.", limit=task.concurrency_limit
            )
        self._s.tasks[task.id] = task

    async def get(self, task_id: UUID) -> Task | None:
        return self._s.tasks.get(task_id)

    async def list_page(self, user_id: UUID | None, filt: TaskFilter, limit: int) -> list[Task]:
        rows = [
            t
            for t in self._s.tasks.values()
            if (user_id is None or t.user_id == user_id)
            and (filt.status is None or t.status is filt.status)
            and (filt.mode is None or t.mode is filt.mode)
            and (filt.repository_id is None or t.repository_id == filt.repository_id)
            and (filt.created_after is None or t.created_at >= filt.created_after)
            and (filt.created_before is None or t.created_at < filt.created_before)
            and (filt.cursor is None or t.id < filt.cursor)
        ]
        rows.sort(key=lambda t: t.id, reverse=True)
        return rows[:limit]

    async def find_by_idempotency_key(self, user_id: UUID, key: str) -> Task | None:
        for task in self._s.tasks.values():
            if task.user_id == user_id and task.idempotency_key == key:
                return task
        return None

    def _ordered_queue(self, now: datetime) -> list[Task]:
        queued = [
            t
            for t in self._s.tasks.values()
            if t.status is TaskStatus.QUEUED and (t.not_before is None or t.not_before <= now)
        ]
        running: dict[UUID, int] = defaultdict(int)
        for t in self._s.tasks.values():
            if t.status is TaskStatus.RUNNING:
                running[t.user_id] += 1
        return fair_order(queued, running)

    async def claim_next(self, worker_id: str, now: datetime) -> Task | None:
        for task in self._ordered_queue(now):
            claimed = self._take(task, worker_id, now)
            if claimed is not None:
                return claimed
        return None

    async def claim(self, task_id: UUID, worker_id: str, now: datetime) -> Task | None:
        task = self._s.tasks.get(task_id)
        if (
            task is None
            or task.status is not TaskStatus.QUEUED
            or (task.not_before is not None and task.not_before > now)
        ):
            return None
        return self._take(task, worker_id, now)

    def _take(self, task: Task, worker_id: str, now: datetime) -> Task | None:
        if task.writes:
            if task.repository_id in self._s.repository_locks:
                return None
            self._s.repository_locks[task.repository_id] = task.id
        claimed = dataclasses.replace(
            task,
            status=TaskStatus.RUNNING,
            attempt=task.attempt + 1,
            worker_id=worker_id,
            heartbeat_at=now,
            started_at=task.started_at or now,
            not_before=None,
            updated_at=now,
        )
        self._s.tasks[task.id] = claimed
        return claimed

    def _running(self, task_id: UUID, worker_id: str | None, attempt: int) -> Task | None:
        task = self._s.tasks.get(task_id)
        if (
            task is None
            or task.status is not TaskStatus.RUNNING
            or task.attempt != attempt
            or (worker_id is not None and task.worker_id != worker_id)
        ):
            return None
        return task

    def _unlock(self, task: Task) -> None:
        if self._s.repository_locks.get(task.repository_id) == task.id:
            del self._s.repository_locks[task.repository_id]

    async def heartbeat(self, task_id: UUID, worker_id: str, attempt: int, now: datetime) -> bool:
        task = self._running(task_id, worker_id, attempt)
        if task is None:
            return False
        self._s.tasks[task_id] = dataclasses.replace(task, heartbeat_at=now)
        return True

    async def finish(
        self,
        task_id: UUID,
        worker_id: str,
        attempt: int,
        status: TaskStatus,
        now: datetime,
        *,
        failure_reason: FailureReason | None = None,
        failure_message: str | None = None,
        result: TaskResult | None = None,
    ) -> bool:
        if not status.is_terminal:
            raise ValueError("finish needs a terminal status")
        task = self._running(task_id, worker_id, attempt)
        if task is None:
            return False
        self._unlock(task)
        self._s.tasks[task_id] = dataclasses.replace(
            task,
            status=status,
            failure_reason=failure_reason,
            failure_message=failure_message,
            result=result,
            finished_at=now,
            updated_at=now,
        )
        return True

    async def requeue(
        self,
        task_id: UUID,
        worker_id: str | None,
        attempt: int,
        now: datetime,
        not_before: datetime | None,
        *,
        failure_reason: FailureReason | None = None,
        failure_message: str | None = None,
        give_back_attempt: bool = False,
    ) -> bool:
        task = self._running(task_id, worker_id, attempt)
        if task is None:
            return False
        self._unlock(task)
        self._s.tasks[task_id] = dataclasses.replace(
            task,
            status=TaskStatus.QUEUED,
            attempt=attempt - 1 if give_back_attempt else attempt,
            worker_id=None,
            heartbeat_at=None,
            not_before=not_before,
            failure_reason=failure_reason,
            failure_message=failure_message,
            updated_at=now,
        )
        return True

    async def cancel(self, task_id: UUID, now: datetime) -> bool:
        task = self._s.tasks.get(task_id)
        if task is None or task.status not in _ACTIVE:
            return False
        self._unlock(task)
        self._s.tasks[task_id] = dataclasses.replace(
            task, status=TaskStatus.CANCELLED, finished_at=now, updated_at=now
        )
        return True

    async def update_queued(
        self, task_id: UUID, now: datetime, *, instructions: str | None, priority: int | None
    ) -> bool:
        task = self._s.tasks.get(task_id)
        if task is None or task.status is not TaskStatus.QUEUED:
            return False
        self._s.tasks[task_id] = dataclasses.replace(
            task,
            instructions=instructions if instructions is not None else task.instructions,
            priority=priority if priority is not None else task.priority,
            updated_at=now,
        )
        return True

    async def record_settlement(self, task_id: UUID, settled_credits: int, waived: bool) -> bool:
        task = self._s.tasks.get(task_id)
        if task is None or not task.status.is_terminal or task.settled_credits is not None:
            return False
        self._s.tasks[task_id] = dataclasses.replace(
            task, settled_credits=settled_credits, charge_waived=waived
        )
        return True

    async def count_active(self, user_id: UUID) -> int:
        return sum(1 for t in self._s.tasks.values() if t.user_id == user_id and t.status in _ACTIVE)

    async def count_for_repository_since(
        self, repository_id: UUID, since: datetime, *, key_prefix: str
    ) -> int:
        return sum(
            1
            for t in self._s.tasks.values()
            if t.repository_id == repository_id
            and t.created_at >= since
            and (t.idempotency_key or "").startswith(key_prefix)
        )

    async def queue_position(self, task_id: UUID, now: datetime) -> int | None:
        task = self._s.tasks.get(task_id)
        if task is None or task.status is not TaskStatus.QUEUED:
            return None
        queued = [t for t in self._s.tasks.values() if t.status is TaskStatus.QUEUED]
        running: dict[UUID, int] = defaultdict(int)
        for t in self._s.tasks.values():
            if t.status is TaskStatus.RUNNING:
                running[t.user_id] += 1
        return [t.id for t in fair_order(queued, running)].index(task_id)

    async def recent_durations(self, limit: int) -> list[float]:
        done = [t for t in self._s.tasks.values() if t.status is TaskStatus.SUCCEEDED]
        done.sort(key=lambda t: (t.finished_at, t.id), reverse=True)
        return [d for t in done[:limit] if (d := t.duration_seconds) is not None]

    async def find_stale(self, heartbeat_before: datetime, limit: int) -> list[Task]:
        stale = [
            t
            for t in self._s.tasks.values()
            if t.status is TaskStatus.RUNNING
            and (t.heartbeat_at is None or t.heartbeat_at < heartbeat_before)
        ]
        return sorted(stale, key=lambda t: t.id)[:limit]

    async def find_unsettled(self, finished_before: datetime, limit: int) -> list[Task]:
        rows = [
            t
            for t in self._s.tasks.values()
            if t.status.is_terminal
            and t.hold_id is not None
            and t.settled_credits is None
            and t.finished_at is not None
            and t.finished_at < finished_before
        ]
        return sorted(rows, key=lambda t: t.id)[:limit]

    async def status_mode_counts(self, user_id: UUID | None) -> list[StatusModeCount]:
        counts: dict[tuple[Any, Any], int] = defaultdict(int)
        for t in self._s.tasks.values():
            if user_id is None or t.user_id == user_id:
                counts[(t.status, t.mode)] += 1
        return [
            StatusModeCount(status, mode, n)
            for (status, mode), n in sorted(counts.items(), key=lambda kv: (kv[0][0].value, kv[0][1].value))
        ]

    async def durations(self, user_id: UUID | None, limit: int) -> list[float]:
        done = [
            t
            for t in self._s.tasks.values()
            if (user_id is None or t.user_id == user_id) and t.duration_seconds is not None
        ]
        done.sort(key=lambda t: (t.finished_at, t.id), reverse=True)
        return [d for t in done[:limit] if (d := t.duration_seconds) is not None]


class InMemoryTaskUsageRepository(TaskUsageRepository):
    def __init__(self, store: InMemoryStore) -> None:
        self._store = store

    async def add(self, usage: TaskUsage) -> None:
        tasks_state(self._store).usage.append(usage)

    async def list_for_task(self, task_id: UUID) -> list[TaskUsage]:
        rows = [u for u in tasks_state(self._store).usage if u.task_id == task_id]
        return sorted(rows, key=lambda u: (u.created_at, u.id))

    async def charged_total(self, task_id: UUID) -> int:
        return sum(u.charged_credits for u in tasks_state(self._store).usage if u.task_id == task_id)

    async def daily(self, user_id: UUID | None, start: date, end: date) -> list[DailyTaskUsage]:
        return daily_task_usage(
            u
            for u in tasks_state(self._store).usage
            if (user_id is None or u.user_id == user_id) and start <= u.created_at.date() <= end
        )


class InMemoryTaskEventRepository(TaskEventRepository):
    def __init__(self, store: InMemoryStore) -> None:
        self._store = store

    async def append(
        self, task_id: UUID, type: TaskEventType, data: dict[str, Any], at: datetime
    ) -> TaskEvent:
        events = tasks_state(self._store).events.setdefault(task_id, [])
        event = TaskEvent(task_id, len(events) + 1, type, dict(data), at)
        events.append(event)
        return event

    async def list_after(
        self, task_id: UUID, after_seq: int, *, limit: int, type: TaskEventType | None = None
    ) -> list[TaskEvent]:
        events = tasks_state(self._store).events.get(task_id, [])
        rows = [e for e in events if e.seq > after_seq and (type is None or e.type is type)]
        return rows[:limit]
