"""Wire shapes of tasks (snake_case, like the rest of the API) and their mapping from the use cases."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated
from uuid import UUID

import msgspec

from asynccoder.application.ports.events import TaskEvent
from asynccoder.application.tasks.manage import TaskAnalyticsReport, TaskReceipt, TaskView
from asynccoder.domain.tasks import MAX_INSTRUCTIONS_LENGTH, MAX_PRIORITY, MIN_PRIORITY, Task, TaskMode
from asynccoder.entrypoints.http.common import problem_response, wire

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
    return wire(
        TaskOut,
        task,
        mode=task.mode.value,
        status=task.status.value,
        failure_reason=task.failure_reason.value if task.failure_reason else None,
        result=wire(TaskResultOut, r) if r else None,
        queue_position=view.queue_position if view else None,
        eta_seconds=view.eta_seconds if view else None,
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
    return wire(
        ReceiptOut,
        receipt,
        task_id=task.id,
        status=task.status.value,
        failure_reason=task.failure_reason.value if task.failure_reason else None,
        lines=[
            wire(
                ReceiptLineOut,
                line.usage,
                key_source=line.usage.key_source.value,
                billed_credits=line.billed_credits,
            )
            for line in receipt.lines
        ],
    )


def analytics_out(report: TaskAnalyticsReport) -> AnalyticsOut:
    d = report.durations
    return AnalyticsOut(
        counts=[wire(StatusModeCountOut, c, status=c.status.value, mode=c.mode.value) for c in report.counts],
        durations=wire(DurationsOut, d, p50_seconds=d.p50, p90_seconds=d.p90, p99_seconds=d.p99),
        daily=[wire(DailyUsageOut, u) for u in report.daily],
    )
