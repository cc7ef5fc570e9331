"""Wire shapes of tasks (snake_case, like the rest of the API) and their mapping from the use cases."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated
from uuid import UUID

import msgspec

from asynccoder.application.ports.events import TaskEvent
from asynccoder.application.tasks.manage import TaskAnalyticsReport, TaskReceipt, TaskView
from asynccoder.domain.tasks import MAX_INSTRUCTIONS_LENGTH, MAX_PRIORITY, MIN_PRIORITY, Task, TaskMode
from asynccoder.entrypoints.http.common import problem_response

Priority = Annotated[int, msgspec.Meta(ge=MIN_PRIORITY, le=MAX_PRIORITY, description="0 (low) to 10 (high)")]
Instructions = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_INSTRUCTIONS_LENGTH)]

NOT_FOUND = {404: problem_response("No such task, or it is another user's (`task_not_found`)")}
INVALID = {400: problem_response("Invalid input (`validation_failed`, `invalid_cursor`)")}


class CreateTaskIn(msgspec.Struct, forbid_unknown_fields=True):
    repository_id: UUID
    mode: TaskMode
    instructions: Instructions
    base_branch: Annotated[str, msgspec.Meta(min_length=1, max_length=255)] | None = None
    pull_request_number: Annotated[int, msgspec.Meta(ge=1)] | None = None
    model_id: UUID | None = None
    budget_cap_credits: Annotated[int, msgspec.Meta(ge=1, le=10_000_000)] | None = None
    priority: Priority = 5


class UpdateTaskIn(msgspec.Struct, forbid_unknown_fields=True):
    instructions: Instructions | None = None
    priority: Priority | None = None


class DiffStatsOut(msgspec.Struct):
    files_changed: int
    additions: int
    deletions: int


class TaskResultOut(msgspec.Struct):
    summary_markdown: str
    branch: str | None
    pull_request_url: str | None
    pull_request_number: int | None
    review_url: str | None
    changed_files: list[str]
    diff_stats: DiffStatsOut
    partial: bool


class TaskOut(msgspec.Struct):
    id: UUID
    repository_id: UUID
    mode: str
    status: str
    instructions: str
    base_branch: str | None
    pull_request_number: int | None
    model_id: UUID | None
    budget_cap_credits: int
    priority: int
    attempt: int
    max_attempts: int
    failure_reason: str | None
    failure_message: str | None
    result: TaskResultOut | None
    settled_credits: int | None
    charge_waived: bool
    queue_position: int | None
    eta_seconds: int | None
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class TaskListOut(msgspec.Struct):
    items: list[TaskOut]
    next_cursor: str | None


class LogLineOut(msgspec.Struct):
    seq: int
    level: str
    message: str
    data: dict[str, object] | None
    created_at: datetime


class LogPageOut(msgspec.Struct):
    items: list[LogLineOut]
    next_after: int | None


class ReceiptLineOut(msgspec.Struct):
    id: UUID
    attempt: int
    model_id: UUID
    answered_model: str
    key_source: str
    price_id: UUID | None
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    cost_credits: int
    charged_credits: int
    billed_credits: int
    created_at: datetime


class ReceiptOut(msgspec.Struct):
    task_id: UUID
    status: str
    failure_reason: str | None
    lines: list[ReceiptLineOut]
    cost_credits: int
    charged_credits: int
    settled_credits: int | None
    waived: bool
    note: str
    cache_read_tokens: int
    cache_write_tokens: int
    platform_fee_credits: int  # the platform fee a task run only on the user's own keys paid


class StatusModeCountOut(msgspec.Struct):
    status: str
    mode: str
    count: int


class DurationsOut(msgspec.Struct):
    count: int
    p50_seconds: float | None
    p90_seconds: float | None
    p99_seconds: float | None


class DailyUsageOut(msgspec.Struct):
    day: date
    model_id: UUID
    calls: int
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    charged_credits: int


class AnalyticsOut(msgspec.Struct):
    counts: list[StatusModeCountOut]
    durations: DurationsOut
    daily: list[DailyUsageOut]


def task_out(task: Task, view: TaskView | None = None) -> TaskOut:
    r = task.result
    return TaskOut(
        id=task.id,
        repository_id=task.repository_id,
        mode=task.mode.value,
        status=task.status.value,
        instructions=task.instructions,
        base_branch=task.base_branch,
        pull_request_number=task.pull_request_number,
        model_id=task.model_id,
        budget_cap_credits=task.budget_cap_credits,
        priority=task.priority,
        attempt=task.attempt,
        max_attempts=task.max_attempts,
        failure_reason=task.failure_reason.value if task.failure_reason else None,
        failure_message=task.failure_message,
        result=TaskResultOut(
            r.summary_markdown,
            r.branch,
            r.pull_request_url,
            r.pull_request_number,
            r.review_url,
            list(r.changed_files),
            DiffStatsOut(r.diff_stats.files_changed, r.diff_stats.additions, r.diff_stats.deletions),
            r.partial,
        )
        if r
        else None,
        settled_credits=task.settled_credits,
        charge_waived=task.charge_waived,
        queue_position=view.queue_position if view else None,
        eta_seconds=view.eta_seconds if view else None,
        created_at=task.created_at,
        updated_at=task.updated_at,
        started_at=task.started_at,
        finished_at=task.finished_at,
    )


def log_line_out(event: TaskEvent) -> LogLineOut:
    data = event.data.get("data")
    return LogLineOut(
        seq=event.seq,
        level=str(event.data.get("level", "info")),
        message=str(event.data.get("message", "")),
        data=data if isinstance(data, dict) else None,
        created_at=event.created_at,
    )


def receipt_out(receipt: TaskReceipt) -> ReceiptOut:
    task = receipt.task
    return ReceiptOut(
        task_id=task.id,
        status=task.status.value,
        failure_reason=task.failure_reason.value if task.failure_reason else None,
        lines=[
            ReceiptLineOut(
                id=line.usage.id,
                attempt=line.usage.attempt,
                model_id=line.usage.model_id,
                answered_model=line.usage.answered_model,
                key_source=line.usage.key_source.value,
                price_id=line.usage.price_id,
                input_tokens=line.usage.input_tokens,
                output_tokens=line.usage.output_tokens,
                cache_read_tokens=line.usage.cache_read_tokens,
                cache_write_tokens=line.usage.cache_write_tokens,
                cost_credits=line.usage.cost_credits,
                charged_credits=line.usage.charged_credits,
                billed_credits=line.billed_credits,
                created_at=line.usage.created_at,
            )
            for line in receipt.lines
        ],
        cost_credits=receipt.cost_credits,
        charged_credits=receipt.charged_credits,
        settled_credits=receipt.settled_credits,
        waived=receipt.waived,
        note=receipt.note,
        cache_read_tokens=receipt.cache_read_tokens,
        cache_write_tokens=receipt.cache_write_tokens,
        platform_fee_credits=receipt.platform_fee_credits,
    )


def analytics_out(report: TaskAnalyticsReport) -> AnalyticsOut:
    d = report.durations
    return AnalyticsOut(
        counts=[StatusModeCountOut(c.status.value, c.mode.value, c.count) for c in report.counts],
        durations=DurationsOut(d.count, d.p50, d.p90, d.p99),
        daily=[
            DailyUsageOut(
                u.day,
                u.model_id,
                u.calls,
                u.input_tokens,
                u.output_tokens,
                u.cache_read_tokens,
                u.cache_write_tokens,
                u.charged_credits,
            )
            for u in report.daily
        ],
    )
