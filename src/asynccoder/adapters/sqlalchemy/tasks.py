"""SQL tasks, task usage and task events.

Every transition is one conditional ``UPDATE ... WHERE status = ...`` (plus, in the same transaction, the
user's active-slot counter and the repository's writing lock), so it is correct on SQLite and PostgreSQL alike
without ``SELECT ... FOR UPDATE``. The per-user slot is a counter row bumped with ``active < limit`` in the
``WHERE`` clause, so concurrent submits never exceed the plan's limit; the writing lock is a row keyed by the
repository, taken with ``INSERT ... ON CONFLICT DO NOTHING``. Event sequences come from a counter on the task
row (``UPDATE ... RETURNING``): gap-free, because a rolled-back append rolls the counter back with it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from asynccoder.adapters.sqlalchemy.dialect import insert_on_conflict
from asynccoder.adapters.sqlalchemy.errors import constraint_name
from asynccoder.adapters.sqlalchemy.tasks_tables import (
    task_events,
    task_repository_locks,
    task_usage,
    task_user_slots,
    tasks,
)
from asynccoder.application.ports.events import TaskEvent, TaskEventRepository, TaskEventType
from asynccoder.application.ports.tasks import (
    DailyTaskUsage,
    StatusModeCount,
    TaskFilter,
    TaskRepository,
    TaskUsage,
    TaskUsageRepository,
    daily_task_usage,
)
from asynccoder.domain.ai_catalogue import KeySource
from asynccoder.domain.tasks import (
    ConcurrencyLimitReached,
    DiffStats,
    FailureReason,
    Task,
    TaskIdempotencyKeyTaken,
    TaskMode,
    TaskResult,
    TaskStatus,
)

_CLAIM_CANDIDATES = 25
_QUEUED, _RUNNING = TaskStatus.QUEUED.value, TaskStatus.RUNNING.value
_TERMINAL = (TaskStatus.SUCCEEDED.value, TaskStatus.FAILED.value, TaskStatus.CANCELLED.value)


def result_to_json(result: TaskResult | None) -> dict[str, Any] | None:
    if result is None:
        return None
    return {
        "summary_markdown": result.summary_markdown,
        "branch": result.branch,
        "pull_request_url": result.pull_request_url,
        "pull_request_number": result.pull_request_number,
        "review_url": result.review_url,
        "changed_files": list(result.changed_files),
        "diff_stats": {
            "files_changed": result.diff_stats.files_changed,
            "additions": result.diff_stats.additions,
            "deletions": result.diff_stats.deletions,
        },
        "partial": result.partial,
    }


def result_from_json(raw: dict[str, Any] | None) -> TaskResult | None:
    if raw is None:
        return None
    stats = raw.get("diff_stats") or {}
    return TaskResult(
        summary_markdown=raw["summary_markdown"],
        branch=raw.get("branch"),
        pull_request_url=raw.get("pull_request_url"),
        pull_request_number=raw.get("pull_request_number"),
        review_url=raw.get("review_url"),
        changed_files=tuple(raw.get("changed_files") or ()),
        diff_stats=DiffStats(
            stats.get("files_changed", 0), stats.get("additions", 0), stats.get("deletions", 0)
        ),
        partial=bool(raw.get("partial", False)),
    )


def _task(row: sa.Row[Any]) -> Task:
    m = row._mapping
    return Task(
        id=m["id"],
        user_id=m["user_id"],
        repository_id=m["repository_id"],
        mode=TaskMode(m["mode"]),
        instructions=m["instructions"],
        budget_cap_credits=m["budget_cap_credits"],
        priority=m["priority"],
        priority_class=m["priority_class"],
        concurrency_limit=m["concurrency_limit"],
        status=TaskStatus(m["status"]),
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        base_branch=m["base_branch"],
        pull_request_number=m["pull_request_number"],
        model_id=m["model_id"],
        failure_reason=FailureReason(m["failure_reason"]) if m["failure_reason"] else None,
        failure_message=m["failure_message"],
        attempt=m["attempt"],
        max_attempts=m["max_attempts"],
        hold_id=m["hold_id"],
        worker_id=m["worker_id"],
        heartbeat_at=m["heartbeat_at"],
        not_before=m["not_before"],
        started_at=m["started_at"],
        finished_at=m["finished_at"],
        result=result_from_json(m["result"]),
        settled_credits=m["settled_credits"],
        charge_waived=m["charge_waived"],
        idempotency_key=m["idempotency_key"],
        request_fingerprint=m["request_fingerprint"],
        platform_fee_credits=m["platform_fee_credits"],
    )


def _fair_queue(now: datetime | None) -> sa.Subquery:
    """Queued tasks with their round-robin ``round`` (see ``domain.tasks.fair_order``)."""
    other = tasks.alias("other")
    running = (
        sa.select(sa.func.count())
        .select_from(other)
        .where(other.c.user_id == tasks.c.user_id, other.c.status == _RUNNING)
        .scalar_subquery()
    )
    index = sa.func.row_number().over(
        partition_by=tasks.c.user_id, order_by=(tasks.c.priority.desc(), tasks.c.created_at, tasks.c.id)
    )
    query = sa.select(
        tasks.c.id,
        tasks.c.writes,
        tasks.c.repository_id,
        tasks.c.priority_class,
        tasks.c.priority,
        tasks.c.created_at,
        (index - 1 + running).label("round"),
    ).where(tasks.c.status == _QUEUED)
    if now is not None:
        query = query.where(sa.or_(tasks.c.not_before.is_(None), tasks.c.not_before <= now))
    return query.subquery("fair")


def _fair_order(q: sa.Subquery) -> tuple[Any, ...]:
    return (q.c.priority_class.desc(), q.c.round, q.c.priority.desc(), q.c.created_at, q.c.id)


class SqlAlchemyTaskRepository(TaskRepository):
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, task: Task) -> None:
        conn = self._conn
        await conn.execute(
            insert_on_conflict(conn, task_user_slots)
            .values(user_id=task.user_id, active=0)
            .on_conflict_do_nothing(index_elements=["user_id"])
        )
        took = await conn.execute(
            sa.update(task_user_slots)
            .where(
                task_user_slots.c.user_id == task.user_id,
                task_user_slots.c.active < task.concurrency_limit,
            )
            .values(active=task_user_slots.c.active + 1)
        )
        if took.rowcount != 1:
            raise ConcurrencyLimitReached(
                "You already have as many active tasks as your plan allows.", limit=task.concurrency_limit
            )
        try:
            async with conn.begin_nested():
                await self._insert(task)
        except IntegrityError as exc:
            if constraint_name(exc) == "uq_tasks_user_id_idempotency_key":
                raise TaskIdempotencyKeyTaken("This idempotency key was used for another task.") from None
            raise

    async def _insert(self, task: Task) -> None:
        await self._conn.execute(
            sa.insert(tasks).values(
                id=task.id,
                user_id=task.user_id,
                repository_id=task.repository_id,
                mode=task.mode.value,
                writes=task.writes,
                instructions=task.instructions,
                base_branch=task.base_branch,
                pull_request_number=task.pull_request_number,
                model_id=task.model_id,
                budget_cap_credits=task.budget_cap_credits,
                priority=task.priority,
                priority_class=task.priority_class,
                concurrency_limit=task.concurrency_limit,
                status=task.status.value,
                failure_reason=task.failure_reason.value if task.failure_reason else None,
                failure_message=task.failure_message,
                attempt=task.attempt,
                max_attempts=task.max_attempts,
                hold_id=task.hold_id,
                worker_id=task.worker_id,
                heartbeat_at=task.heartbeat_at,
                not_before=task.not_before,
                created_at=task.created_at,
                updated_at=task.updated_at,
                started_at=task.started_at,
                finished_at=task.finished_at,
                result=result_to_json(task.result),
                settled_credits=task.settled_credits,
                charge_waived=task.charge_waived,
                idempotency_key=task.idempotency_key,
                request_fingerprint=task.request_fingerprint,
                platform_fee_credits=task.platform_fee_credits,
                last_event_seq=0,
            )
        )

    async def get(self, task_id: UUID) -> Task | None:
        row = (await self._conn.execute(sa.select(tasks).where(tasks.c.id == task_id))).first()
        return _task(row) if row else None

    async def list_page(self, user_id: UUID | None, filt: TaskFilter, limit: int) -> list[Task]:
        q = sa.select(tasks)
        if user_id is not None:
            q = q.where(tasks.c.user_id == user_id)
        if filt.status is not None:
            q = q.where(tasks.c.status == filt.status.value)
        if filt.mode is not None:
            q = q.where(tasks.c.mode == filt.mode.value)
        if filt.repository_id is not None:
            q = q.where(tasks.c.repository_id == filt.repository_id)
        if filt.created_after is not None:
            q = q.where(tasks.c.created_at >= filt.created_after)
        if filt.created_before is not None:
            q = q.where(tasks.c.created_at < filt.created_before)
        if filt.cursor is not None:
            q = q.where(tasks.c.id < filt.cursor)
        rows = await self._conn.execute(q.order_by(tasks.c.id.desc()).limit(limit))
        return [_task(r) for r in rows]

    async def find_by_idempotency_key(self, user_id: UUID, key: str) -> Task | None:
        row = (
            await self._conn.execute(
                sa.select(tasks).where(tasks.c.user_id == user_id, tasks.c.idempotency_key == key)
            )
        ).first()
        return _task(row) if row else None

    async def claim_next(self, worker_id: str, now: datetime) -> Task | None:
        conn = self._conn
        fair = _fair_queue(now)
        locked = sa.select(task_repository_locks.c.repository_id)
        candidates = (
            await conn.execute(
                sa.select(fair.c.id, fair.c.writes, fair.c.repository_id)
                .where(sa.or_(fair.c.writes.is_(False), fair.c.repository_id.not_in(locked)))
                .order_by(*_fair_order(fair))
                .limit(_CLAIM_CANDIDATES)
            )
        ).all()
        for task_id, writes, repository_id in candidates:
            claimed = await self._take(task_id, writes, repository_id, worker_id, now)
            if claimed is not None:
                return claimed
        return None

    async def claim(self, task_id: UUID, worker_id: str, now: datetime) -> Task | None:
        row = (
            await self._conn.execute(
                sa.select(tasks.c.writes, tasks.c.repository_id).where(
                    tasks.c.id == task_id,
                    tasks.c.status == _QUEUED,
                    sa.or_(tasks.c.not_before.is_(None), tasks.c.not_before <= now),
                )
            )
        ).first()
        return None if row is None else await self._take(task_id, row[0], row[1], worker_id, now)

    async def _take(
        self, task_id: UUID, writes: bool, repository_id: UUID, worker_id: str, now: datetime
    ) -> Task | None:
        conn = self._conn
        if writes:
            # RETURNING, not rowcount: drivers report -1 for INSERT ... ON CONFLICT.
            got = await conn.scalar(
                insert_on_conflict(conn, task_repository_locks)
                .values(repository_id=repository_id, task_id=task_id, locked_at=now)
                .on_conflict_do_nothing(index_elements=["repository_id"])
                .returning(task_repository_locks.c.task_id)
            )
            if got is None:
                return None
        won = await conn.execute(
            sa.update(tasks)
            .where(tasks.c.id == task_id, tasks.c.status == _QUEUED)
            .values(
                status=_RUNNING,
                attempt=tasks.c.attempt + 1,
                worker_id=worker_id,
                heartbeat_at=now,
                started_at=sa.func.coalesce(tasks.c.started_at, now),
                not_before=None,
                updated_at=now,
            )
        )
        if won.rowcount == 1:
            return await self.get(task_id)
        if writes:
            await self._unlock(task_id)
        return None

    async def _unlock(self, task_id: UUID) -> None:
        await self._conn.execute(
            sa.delete(task_repository_locks).where(task_repository_locks.c.task_id == task_id)
        )

    async def _ended(self, task_id: UUID, user_id: UUID) -> None:
        await self._unlock(task_id)
        await self._conn.execute(
            sa.update(task_user_slots)
            .where(task_user_slots.c.user_id == user_id, task_user_slots.c.active > 0)
            .values(active=task_user_slots.c.active - 1)
        )

    def _running(self, task_id: UUID, worker_id: str | None, attempt: int) -> Any:
        clauses = [tasks.c.id == task_id, tasks.c.status == _RUNNING, tasks.c.attempt == attempt]
        if worker_id is not None:
            clauses.append(tasks.c.worker_id == worker_id)
        return sa.and_(*clauses)

    async def heartbeat(self, task_id: UUID, worker_id: str, attempt: int, now: datetime) -> bool:
        res = await self._conn.execute(
            sa.update(tasks).where(self._running(task_id, worker_id, attempt)).values(heartbeat_at=now)
        )
        return res.rowcount == 1

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
        row = (
            await self._conn.execute(
                sa.update(tasks)
                .where(self._running(task_id, worker_id, attempt))
                .values(
                    status=status.value,
                    failure_reason=failure_reason.value if failure_reason else None,
                    failure_message=failure_message,
                    result=result_to_json(result),
                    finished_at=now,
                    updated_at=now,
                )
                .returning(tasks.c.user_id)
            )
        ).first()
        if row is None:
            return False
        await self._ended(task_id, row[0])
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
        res = await self._conn.execute(
            sa.update(tasks)
            .where(self._running(task_id, worker_id, attempt))
            .values(
                status=_QUEUED,
                attempt=attempt - 1 if give_back_attempt else attempt,
                worker_id=None,
                heartbeat_at=None,
                not_before=not_before,
                failure_reason=failure_reason.value if failure_reason else None,
                failure_message=failure_message,
                updated_at=now,
            )
        )
        if res.rowcount != 1:
            return False
        await self._unlock(task_id)
        return True

    async def cancel(self, task_id: UUID, now: datetime) -> bool:
        row = (
            await self._conn.execute(
                sa.update(tasks)
                .where(tasks.c.id == task_id, tasks.c.status.in_((_QUEUED, _RUNNING)))
                .values(status=TaskStatus.CANCELLED.value, finished_at=now, updated_at=now)
                .returning(tasks.c.user_id)
            )
        ).first()
        if row is None:
            return False
        await self._ended(task_id, row[0])
        return True

    async def update_queued(
        self, task_id: UUID, now: datetime, *, instructions: str | None, priority: int | None
    ) -> bool:
        values: dict[str, Any] = {"updated_at": now}
        if instructions is not None:
            values["instructions"] = instructions
        if priority is not None:
            values["priority"] = priority
        res = await self._conn.execute(
            sa.update(tasks).where(tasks.c.id == task_id, tasks.c.status == _QUEUED).values(**values)
        )
        return res.rowcount == 1

    async def record_settlement(self, task_id: UUID, settled_credits: int, waived: bool) -> bool:
        res = await self._conn.execute(
            sa.update(tasks)
            .where(tasks.c.id == task_id, tasks.c.status.in_(_TERMINAL), tasks.c.settled_credits.is_(None))
            .values(settled_credits=settled_credits, charge_waived=waived)
        )
        return res.rowcount == 1

    async def count_active(self, user_id: UUID) -> int:
        return int(
            await self._conn.scalar(
                sa.select(sa.func.count())
                .select_from(tasks)
                .where(tasks.c.user_id == user_id, tasks.c.status.in_((_QUEUED, _RUNNING)))
            )
            or 0
        )

    async def count_for_repository_since(
        self, repository_id: UUID, since: datetime, *, key_prefix: str
    ) -> int:
        return int(
            await self._conn.scalar(
                sa.select(sa.func.count())
                .select_from(tasks)
                .where(
                    tasks.c.repository_id == repository_id,
                    tasks.c.created_at >= since,
                    tasks.c.idempotency_key.startswith(key_prefix, autoescape=True),
                )
            )
            or 0
        )

    async def queue_position(self, task_id: UUID, now: datetime) -> int | None:
        fair = _fair_queue(None)
        ranked = sa.select(
            fair.c.id, sa.func.row_number().over(order_by=_fair_order(fair)).label("position")
        ).subquery("ranked")
        position = await self._conn.scalar(sa.select(ranked.c.position).where(ranked.c.id == task_id))
        return None if position is None else int(position) - 1

    async def recent_durations(self, limit: int) -> list[float]:
        rows = await self._conn.execute(
            sa.select(tasks.c.started_at, tasks.c.finished_at)
            .where(tasks.c.status == TaskStatus.SUCCEEDED.value, tasks.c.started_at.is_not(None))
            .order_by(tasks.c.finished_at.desc(), tasks.c.id.desc())
            .limit(limit)
        )
        return [(finished - started).total_seconds() for started, finished in rows]

    async def find_stale(self, heartbeat_before: datetime, limit: int) -> list[Task]:
        rows = await self._conn.execute(
            sa.select(tasks)
            .where(
                tasks.c.status == _RUNNING,
                sa.or_(tasks.c.heartbeat_at.is_(None), tasks.c.heartbeat_at < heartbeat_before),
            )
            .order_by(tasks.c.id)
            .limit(limit)
        )
        return [_task(r) for r in rows]

    async def find_unsettled(self, finished_before: datetime, limit: int) -> list[Task]:
        rows = await self._conn.execute(
            sa.select(tasks)
            .where(
                tasks.c.status.in_(_TERMINAL),
                tasks.c.hold_id.is_not(None),
                tasks.c.settled_credits.is_(None),
                tasks.c.finished_at < finished_before,
            )
            .order_by(tasks.c.id)
            .limit(limit)
        )
        return [_task(r) for r in rows]

    async def status_mode_counts(self, user_id: UUID | None) -> list[StatusModeCount]:
        q = sa.select(tasks.c.status, tasks.c.mode, sa.func.count()).group_by(tasks.c.status, tasks.c.mode)
        if user_id is not None:
            q = q.where(tasks.c.user_id == user_id)
        rows = await self._conn.execute(q.order_by(tasks.c.status, tasks.c.mode))
        return [StatusModeCount(TaskStatus(s), TaskMode(m), int(n)) for s, m, n in rows]

    async def durations(self, user_id: UUID | None, limit: int) -> list[float]:
        q = sa.select(tasks.c.started_at, tasks.c.finished_at).where(
            tasks.c.started_at.is_not(None), tasks.c.finished_at.is_not(None)
        )
        if user_id is not None:
            q = q.where(tasks.c.user_id == user_id)
        rows = await self._conn.execute(
            q.order_by(tasks.c.finished_at.desc(), tasks.c.id.desc()).limit(limit)
        )
        return [(finished - started).total_seconds() for started, finished in rows]


def _usage(row: sa.Row[Any]) -> TaskUsage:
    m = row._mapping
    return TaskUsage(
        id=m["id"],
        task_id=m["task_id"],
        user_id=m["user_id"],
        attempt=m["attempt"],
        model_id=m["model_id"],
        answered_model=m["answered_model"],
        key_source=KeySource(m["key_source"]),
        input_tokens=m["input_tokens"],
        output_tokens=m["output_tokens"],
        cache_read_tokens=m["cache_read_tokens"],
        cache_write_tokens=m["cache_write_tokens"],
        cost_credits=m["cost_credits"],
        charged_credits=m["charged_credits"],
        price_id=m["price_id"],
        created_at=m["created_at"],
    )


class SqlAlchemyTaskUsageRepository(TaskUsageRepository):
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, usage: TaskUsage) -> None:
        await self._conn.execute(
            sa.insert(task_usage).values(
                id=usage.id,
                task_id=usage.task_id,
                user_id=usage.user_id,
                attempt=usage.attempt,
                model_id=usage.model_id,
                answered_model=usage.answered_model,
                key_source=usage.key_source.value,
                input_tokens=usage.input_tokens,
                output_tokens=usage.output_tokens,
                cache_read_tokens=usage.cache_read_tokens,
                cache_write_tokens=usage.cache_write_tokens,
                cost_credits=usage.cost_credits,
                charged_credits=usage.charged_credits,
                price_id=usage.price_id,
                created_at=usage.created_at,
            )
        )

    async def list_for_task(self, task_id: UUID) -> list[TaskUsage]:
        rows = await self._conn.execute(
            sa.select(task_usage)
            .where(task_usage.c.task_id == task_id)
            .order_by(task_usage.c.created_at, task_usage.c.id)
        )
        return [_usage(r) for r in rows]

    async def charged_total(self, task_id: UUID) -> int:
        total = await self._conn.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(task_usage.c.charged_credits), 0)).where(
                task_usage.c.task_id == task_id
            )
        )
        return int(total or 0)

    async def daily(self, user_id: UUID | None, start: date, end: date) -> list[DailyTaskUsage]:
        # Day bucketing happens here rather than in SQL: the two dialects spell "date of a timestamp" apart.
        lo = datetime.combine(start, time.min).replace(tzinfo=UTC)
        hi = datetime.combine(end + timedelta(days=1), time.min).replace(tzinfo=UTC)
        q = sa.select(task_usage).where(task_usage.c.created_at >= lo, task_usage.c.created_at < hi)
        if user_id is not None:
            q = q.where(task_usage.c.user_id == user_id)
        return daily_task_usage(_usage(row) for row in await self._conn.execute(q))


class SqlAlchemyTaskEventRepository(TaskEventRepository):
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def append(
        self, task_id: UUID, type: TaskEventType, data: dict[str, Any], at: datetime
    ) -> TaskEvent:
        seq = await self._conn.scalar(
            sa.update(tasks)
            .where(tasks.c.id == task_id)
            .values(last_event_seq=tasks.c.last_event_seq + 1)
            .returning(tasks.c.last_event_seq)
        )
        if seq is None:
            raise LookupError("no such task")
        await self._conn.execute(
            sa.insert(task_events).values(task_id=task_id, seq=seq, type=type.value, data=data, created_at=at)
        )
        return TaskEvent(task_id, int(seq), type, dict(data), at)

    async def list_after(
        self, task_id: UUID, after_seq: int, *, limit: int, type: TaskEventType | None = None
    ) -> list[TaskEvent]:
        q = sa.select(task_events).where(task_events.c.task_id == task_id, task_events.c.seq > after_seq)
        if type is not None:
            q = q.where(task_events.c.type == type.value)
        rows = await self._conn.execute(q.order_by(task_events.c.seq).limit(limit))
        return [
            TaskEvent(r.task_id, int(r.seq), TaskEventType(r.type), dict(r.data), r.created_at) for r in rows
        ]
