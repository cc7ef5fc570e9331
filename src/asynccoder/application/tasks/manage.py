"""Reading and changing one's tasks: get (with queue position and ETA), list, update while queued, cancel,
logs, receipt, analytics. Every use case authorizes the object: another user's task is ``NotFound``."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from uuid import UUID

from asynccoder.application.ports.events import TaskEvent, TaskEventNotifier, TaskEventType
from asynccoder.application.ports.metrics import NO_METRICS, Metrics
from asynccoder.application.ports.system import Clock
from asynccoder.application.ports.tasks import DailyTaskUsage, StatusModeCount, TaskFilter, TaskUsage
from asynccoder.application.ports.uow import UnitOfWork
from asynccoder.application.shared import Page, check_limit, page_of
from asynccoder.application.tasks.events import TaskEvents
from asynccoder.application.tasks.settlement import SettleTask
from asynccoder.domain.errors import FieldProblem, Forbidden, InvalidInput
from asynccoder.domain.identity import Actor
from asynccoder.domain.tasks import (
    MAX_INSTRUCTIONS_LENGTH,
    MAX_PRIORITY,
    MIN_PRIORITY,
    Task,
    TaskFinished,
    TaskMode,
    TaskNotFound,
    TaskNotQueued,
    TaskStatus,
)

ETA_SAMPLE = 20


async def _own_task(uow: UnitOfWork, actor: Actor, task_id: UUID) -> Task:
    task = await uow.tasks.get(task_id)
    if task is None or task.user_id != actor.user_id:
        raise TaskNotFound("No such task.")
    return task


@dataclass(frozen=True, slots=True)
class TaskView:
    task: Task
    queue_position: int | None = None
    eta_seconds: int | None = None


def estimate_eta(position: int, durations: list[float]) -> int | None:
    """Seconds until a queued task at ``position`` likely finishes: the median recent run time times the
    number of tasks up to and including it (a single-worker estimate; ``None`` without history)."""
    if not durations:
        return None
    return math.ceil(statistics.median(durations) * (position + 1))


class GetTask:
    """The caller's task; while queued also its ``queue_position`` (0 = next) in claim order and an
    ``eta_seconds`` from the median of recent run times. Someone else's task -> 404."""

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(self, actor: Actor, task_id: UUID) -> TaskView:
        async with self._uow as uow:
            task = await _own_task(uow, actor, task_id)
            if task.status is not TaskStatus.QUEUED:
                return TaskView(task)
            position = await uow.tasks.queue_position(task_id, self._clock.now())
            durations = await uow.tasks.recent_durations(ETA_SAMPLE)
        if position is None:
            return TaskView(task)
        return TaskView(task, position, estimate_eta(position, durations))


@dataclass(frozen=True, slots=True)
class ListTasksInput:
    actor: Actor
    status: TaskStatus | None = None
    mode: TaskMode | None = None
    repository_id: UUID | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    cursor: UUID | None = None
    limit: int = 20


class ListTasks:
    """The caller's tasks, newest first, filtered by status, mode, repository and creation time; cursor
    paginated."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, data: ListTasksInput) -> Page[Task]:
        limit = check_limit(data.limit)
        filt = TaskFilter(
            data.status, data.mode, data.repository_id, data.created_after, data.created_before, data.cursor
        )
        async with self._uow.read_only() as uow:
            rows = await uow.tasks.list_page(data.actor.user_id, filt, limit + 1)
        return page_of(rows, limit, lambda t: t.id)


@dataclass(frozen=True, slots=True)
class UpdateTaskInput:
    actor: Actor
    task_id: UUID
    instructions: str | None = None
    priority: int | None = None


class UpdateTask:
    """Change a queued task's instructions or priority.

    Rules: the caller's task only (404); at least one change; instructions 1-20,000 characters, priority
    0-10 (422); only while queued — once it started or ended -> 409 ``task_not_queued`` (a conditional
    update, so a worker claiming it concurrently wins cleanly).
    """

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(self, data: UpdateTaskInput) -> Task:
        problems: list[FieldProblem] = []
        instructions = data.instructions.strip() if data.instructions is not None else None
        if instructions is not None and not 0 < len(instructions) <= MAX_INSTRUCTIONS_LENGTH:
            problems.append(
                FieldProblem("instructions", f"must be 1 to {MAX_INSTRUCTIONS_LENGTH} characters")
            )
        if data.priority is not None and not MIN_PRIORITY <= data.priority <= MAX_PRIORITY:
            problems.append(FieldProblem("priority", f"must be {MIN_PRIORITY} to {MAX_PRIORITY}"))
        if instructions is None and data.priority is None:
            problems.append(FieldProblem("instructions", "give instructions or priority to change"))
        if problems:
            raise InvalidInput("The change is not valid.", problems=problems)
        async with self._uow as uow:
            await _own_task(uow, data.actor, data.task_id)
            if not await uow.tasks.update_queued(
                data.task_id, self._clock.now(), instructions=instructions, priority=data.priority
            ):
                raise TaskNotQueued("The task has already started; it can no longer be changed.")
            await uow.commit()
            updated = await uow.tasks.get(data.task_id)
        assert updated is not None
        return updated


class CancelTask:
    """Cancel the caller's task.

    Rules: the caller's task only (404); a queued task never starts and its whole hold is released now; a
    running task is marked cancelled at once and its worker stops it within seconds (it notices on its next
    heartbeat) and settles the usage so far; cancelling a cancelled task again returns it unchanged; a
    task that succeeded or failed -> 409 ``task_finished``.
    """

    def __init__(
        self,
        uow: UnitOfWork,
        clock: Clock,
        notifier: TaskEventNotifier,
        settle: SettleTask,
        metrics: Metrics = NO_METRICS,
    ) -> None:
        self._uow, self._clock, self._notifier, self._settle = uow, clock, notifier, settle
        self._metrics = metrics

    async def __call__(self, actor: Actor, task_id: UUID) -> Task:
        events = TaskEvents(self._notifier, self._clock, self._metrics)
        async with self._uow as uow:
            task = await _own_task(uow, actor, task_id)
            if task.status is TaskStatus.CANCELLED:
                return task
            if task.status.is_terminal:
                raise TaskFinished(f"The task already {task.status.value}; there is nothing to cancel.")
            if not await uow.tasks.cancel(task_id, self._clock.now()):
                current = await uow.tasks.get(task_id)
                assert current is not None
                if current.status is TaskStatus.CANCELLED:
                    return current
                raise TaskFinished(f"The task already {current.status.value}; there is nothing to cancel.")
            await events.status(uow, task_id)
            await uow.commit()
        await events.flush()
        if task.status is TaskStatus.QUEUED:  # nothing ran: release the hold now
            await self._settle(task_id)
        async with self._uow as uow:
            cancelled = await uow.tasks.get(task_id)
        assert cancelled is not None
        return cancelled


@dataclass(frozen=True, slots=True)
class LogPage:
    items: list[TaskEvent]
    next_after: int | None  # pass as ``after`` for the next page


class ListTaskLogs:
    """The caller's task's log lines in order, ``limit`` after sequence ``after``; 404 for others' tasks."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, actor: Actor, task_id: UUID, *, after: int = 0, limit: int = 100) -> LogPage:
        limit = max(1, min(limit, 500))
        async with self._uow as uow:
            await _own_task(uow, actor, task_id)
            rows = await uow.task_events.list_after(
                task_id, max(0, after), limit=limit + 1, type=TaskEventType.LOG
            )
        more = len(rows) > limit
        items = rows[:limit]
        return LogPage(items, items[-1].seq if more and items else None)


@dataclass(frozen=True, slots=True)
class ReceiptLine:
    usage: TaskUsage
    billed_credits: int  # what this call finally cost the user (after the cap and any waiver)


@dataclass(frozen=True, slots=True)
class TaskReceipt:
    task: Task
    lines: list[ReceiptLine]
    cost_credits: int  # what the calls cost at the prices in force
    charged_credits: int  # platform-key usage before the cap and waivers
    settled_credits: int | None  # what was finally charged (None while the task is not settled)
    waived: bool
    note: str
    cache_read_tokens: int
    cache_write_tokens: int
    platform_fee_credits: int = 0  # the BYOK-only task's platform fee, as settled (0 otherwise)


def _note(task: Task) -> str:
    if task.settled_credits is None:
        return "The task is not settled yet; credits stay reserved until it ends."
    if task.charge_waived:
        reason = task.failure_reason.value if task.failure_reason else "the hold expired"
        return f"Not charged: the task failed through the platform's or a provider's fault ({reason})."
    if task.byok_only:
        if task.settled_credits == 0:
            return "Not charged: the task ran only on your own keys and never started."
        return "Charged only the platform fee: every model call used your own key."
    return "Charged for the model calls made with the platform's keys, at most the budget cap."


class GetTaskReceipt:
    """Every model call of the caller's task with tokens (cache reads and writes included), price version,
    key source and credits; ``billed_credits`` of the lines sum exactly to ``settled_credits`` (calls are
    billed in order until the cap; a waived task bills nothing); a BYOK-only task's lines bill nothing and
    ``platform_fee_credits`` is its settled fee, so lines plus fee sum to ``settled_credits``. 404 for others'
    tasks."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, actor: Actor, task_id: UUID) -> TaskReceipt:
        async with self._uow as uow:
            task = await _own_task(uow, actor, task_id)
            usage = await uow.task_usage.list_for_task(task_id)
        fee = (task.settled_credits or 0) if task.byok_only else 0
        remaining = (task.settled_credits or 0) - fee
        lines: list[ReceiptLine] = []
        for row in usage:
            billed = min(row.charged_credits, remaining) if task.settled_credits is not None else 0
            remaining -= billed
            lines.append(ReceiptLine(row, billed))
        return TaskReceipt(
            task=task,
            lines=lines,
            cost_credits=sum(u.cost_credits for u in usage),
            charged_credits=sum(u.charged_credits for u in usage),
            settled_credits=task.settled_credits,
            waived=task.charge_waived,
            note=_note(task),
            cache_read_tokens=sum(u.cache_read_tokens for u in usage),
            cache_write_tokens=sum(u.cache_write_tokens for u in usage),
            platform_fee_credits=fee,
        )


@dataclass(frozen=True, slots=True)
class TaskAnalyticsInput:
    actor: Actor
    start: date
    end: date
    all_users: bool = False


@dataclass(frozen=True, slots=True)
class DurationPercentiles:
    count: int
    p50: float | None
    p90: float | None
    p99: float | None


@dataclass(frozen=True, slots=True)
class TaskAnalyticsReport:
    counts: list[StatusModeCount]
    durations: DurationPercentiles
    daily: list[DailyTaskUsage]


def percentile(sorted_values: list[float], q: float) -> float | None:
    """Nearest-rank percentile of ascending values (``None`` when empty)."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[rank - 1]


MAX_ANALYTICS_DAYS = 366
DURATION_SAMPLE = 5_000


class TaskAnalytics:
    """Counts by status and mode, run-time percentiles (p50/p90/p99 of the latest 5,000 runs) and tokens and
    credits per model and day, for the caller; ``all_users`` for everyone, admins only (403).

    Rules: ``start <= end``, at most 366 days (422).
    """

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, data: TaskAnalyticsInput) -> TaskAnalyticsReport:
        if data.all_users and not data.actor.is_admin:
            raise Forbidden("Analytics for all users need the admin role.")
        if data.end < data.start or data.end - data.start > timedelta(days=MAX_ANALYTICS_DAYS):
            raise InvalidInput(
                "The date range is not valid.",
                problems=[
                    FieldProblem("end", f"must be on or after start, at most {MAX_ANALYTICS_DAYS} days")
                ],
            )
        user_id = None if data.all_users else data.actor.user_id
        async with self._uow as uow:
            counts = await uow.tasks.status_mode_counts(user_id)
            durations = sorted(await uow.tasks.durations(user_id, DURATION_SAMPLE))
            daily = await uow.task_usage.daily(user_id, data.start, data.end)
        return TaskAnalyticsReport(
            counts,
            DurationPercentiles(
                len(durations),
                percentile(durations, 0.5),
                percentile(durations, 0.9),
                percentile(durations, 0.99),
            ),
            daily,
        )
