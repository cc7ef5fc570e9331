"""Ports of the task engine: the tasks table (the source of truth users see) and per-call usage of tasks.

Every state change is a *conditional* write that reports whether it won: a stale worker (one whose attempt was
taken over, or whose task was cancelled) can never overwrite a newer state. Adapters make each transition one
statement (plus, in the same transaction, the slot and lock bookkeeping), correct on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol
from uuid import UUID

from asynccoder.domain.ai_catalogue import KeySource
from asynccoder.domain.tasks import FailureReason, Task, TaskMode, TaskResult, TaskStatus


@dataclass(frozen=True, slots=True)
class TaskFilter:
    status: TaskStatus | None = None
    mode: TaskMode | None = None
    repository_id: UUID | None = None
    created_after: datetime | None = None  # inclusive
    created_before: datetime | None = None  # exclusive
    cursor: UUID | None = None  # the last id of the previous page (newest first)


@dataclass(frozen=True, slots=True)
class TaskUsage:
    """One model call made for a task (the receipt's line)."""

    id: UUID
    task_id: UUID
    user_id: UUID
    attempt: int
    model_id: UUID
    answered_model: str
    key_source: KeySource
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    cost_credits: int
    charged_credits: int
    price_id: UUID | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class StatusModeCount:
    status: TaskStatus
    mode: TaskMode
    count: int


@dataclass(frozen=True, slots=True)
class DailyTaskUsage:
    day: date
    model_id: UUID
    calls: int
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    charged_credits: int


def daily_task_usage(usage: Iterable[TaskUsage]) -> list[DailyTaskUsage]:
    """Per UTC day and model, ordered by day then model: the one aggregation every adapter reports."""
    groups: dict[tuple[date, UUID], list[TaskUsage]] = {}
    for u in usage:
        groups.setdefault((u.created_at.date(), u.model_id), []).append(u)
    return [
        DailyTaskUsage(
            day,
            model_id,
            len(rows),
            sum(r.input_tokens for r in rows),
            sum(r.output_tokens for r in rows),
            sum(r.cache_read_tokens for r in rows),
            sum(r.cache_write_tokens for r in rows),
            sum(r.charged_credits for r in rows),
        )
        for (day, model_id), rows in sorted(groups.items())
    ]


class TaskRepository(Protocol):
    """The tasks table. Transitions return ``True`` only when this call changed the row."""

    async def add(self, task: Task) -> None:
        """Inserts a queued task and takes one of its user's active slots; raises
        ``ConcurrencyLimitReached`` (nothing written) when the user already has ``task.concurrency_limit``
        queued or running tasks. Concurrent adds never exceed the limit."""
        ...

    async def get(self, task_id: UUID) -> Task | None: ...

    async def list_page(self, user_id: UUID | None, filt: TaskFilter, limit: int) -> list[Task]:
        """Newest first (by id); ``user_id=None`` lists everyone's."""
        ...

    async def find_by_idempotency_key(self, user_id: UUID, key: str) -> Task | None: ...

    async def claim_next(self, worker_id: str, now: datetime) -> Task | None:
        """Takes the first runnable queued task in fair order and marks it running for ``worker_id``
        (attempt + 1, heartbeat now). Runnable: ``not_before`` passed and, for a writing task, its
        repository's writing lock free (taken here). Fair order: higher ``priority_class`` first, then
        round-robin across users (each user's n-th task before anyone's n+1-th, counting their running
        tasks), then ``priority``, then age. Two workers never claim the same task."""
        ...

    async def claim(self, task_id: UUID, worker_id: str, now: datetime) -> Task | None:
        """Takes this task as ``claim_next`` would, if it is runnable now (queued, ``not_before`` passed,
        its repository's writing lock free for a writing task); ``None`` otherwise. For a queue engine that
        hands out tasks by id (procrastinate's jobs)."""
        ...

    async def heartbeat(self, task_id: UUID, worker_id: str, attempt: int, now: datetime) -> bool:
        """``False`` once the task no longer runs this attempt on this worker (cancelled, taken over)."""
        ...

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
        """running (this worker, this attempt) -> a terminal ``status``; frees the slot and the lock."""
        ...

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
        """running (this attempt; this worker unless ``worker_id`` is ``None``) -> queued, to run again no
        sooner than ``not_before``; frees the writing lock. ``give_back_attempt`` (a hand-back on worker
        shutdown, not the task's failure) sets ``attempt`` back by one, so the next claim runs the same
        attempt number again and the hand-back does not count against ``max_attempts``."""
        ...

    async def cancel(self, task_id: UUID, now: datetime) -> bool:
        """queued or running -> cancelled; frees the slot and the lock. ``False`` when already terminal."""
        ...

    async def update_queued(
        self, task_id: UUID, now: datetime, *, instructions: str | None, priority: int | None
    ) -> bool:
        """Edits a task only while it is queued."""
        ...

    async def record_settlement(self, task_id: UUID, settled_credits: int, waived: bool) -> bool:
        """Stores the final charge of a terminal task once (``False`` if already recorded)."""
        ...

    async def count_active(self, user_id: UUID) -> int: ...

    async def count_for_repository_since(
        self, repository_id: UUID, since: datetime, *, key_prefix: str
    ) -> int:
        """Tasks on the repository created at or after ``since`` whose idempotency key starts with
        ``key_prefix`` (e.g. those GitHub triggers created today), whatever their status."""
        ...

    async def queue_position(self, task_id: UUID, now: datetime) -> int | None:
        """0-based position of a queued task in claim order (``None`` when not queued)."""
        ...

    async def recent_durations(self, limit: int) -> list[float]:
        """Run times in seconds of the latest succeeded tasks, newest first."""
        ...

    async def find_stale(self, heartbeat_before: datetime, limit: int) -> list[Task]:
        """Running tasks whose worker has not heartbeated since ``heartbeat_before``."""
        ...

    async def find_unsettled(self, finished_before: datetime, limit: int) -> list[Task]:
        """Terminal tasks with a hold whose charge is not recorded yet, finished before the given time."""
        ...

    async def status_mode_counts(self, user_id: UUID | None) -> list[StatusModeCount]: ...

    async def durations(self, user_id: UUID | None, limit: int) -> list[float]:
        """Run times in seconds of finished tasks (any terminal state that started), newest first."""
        ...


class TaskUsageRepository(Protocol):
    """Model calls made for tasks, one row each, append-only."""

    async def add(self, usage: TaskUsage) -> None: ...

    async def list_for_task(self, task_id: UUID) -> list[TaskUsage]:
        """In call order."""
        ...

    async def charged_total(self, task_id: UUID) -> int: ...

    async def daily(self, user_id: UUID | None, start: date, end: date) -> list[DailyTaskUsage]:
        """Per UTC day and model, ``start <= day <= end``, ordered by day then model."""
        ...
