"""Tasks: a unit of AI coding work a user hands to the platform, and its lifecycle.

A task moves ``queued -> running -> succeeded | failed | cancelled`` (a running task may also go back to
``queued`` for a retry after a transient failure or a lost worker). Every change of state is a conditional
update on the expected current state, so a stale worker can never overwrite a newer state.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import UUID

from asynccoder.domain.ai_catalogue import TaskMode
from asynccoder.domain.code_hosting import Permission
from asynccoder.domain.errors import Conflict, FieldProblem, InvalidInput, NotFound, TooManyRequests

__all__ = [
    "MODE_RULES",
    "ConcurrencyLimitReached",
    "FailureReason",
    "Task",
    "TaskFinished",
    "TaskIdempotencyKeyTaken",
    "TaskMode",
    "TaskNotFound",
    "TaskNotQueued",
    "TaskResult",
    "TaskStatus",
]


class TaskStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in (TaskStatus.SUCCEEDED, TaskStatus.FAILED, TaskStatus.CANCELLED)


class FailureReason(enum.StrEnum):
    TIMEOUT = "timeout"
    BUDGET_EXHAUSTED = "budget_exhausted"
    PROVIDER_ERROR = "provider_error"
    SANDBOX_UNAVAILABLE = "sandbox_unavailable"
    REPOSITORY_UNAVAILABLE = "repository_unavailable"
    INVALID_REQUEST = "invalid_request"
    INTERNAL = "internal"

    @property
    def platform_fault(self) -> bool:
        """Failures through the platform's or a provider's fault charge nothing (usage is still recorded)."""
        return self in (
            FailureReason.PROVIDER_ERROR,
            FailureReason.SANDBOX_UNAVAILABLE,
            FailureReason.INTERNAL,
        )


@dataclass(frozen=True, slots=True)
class DiffStats:
    files_changed: int = 0
    additions: int = 0
    deletions: int = 0


@dataclass(frozen=True, slots=True)
class TaskResult:
    """What a task hands back: markdown (answer, plan, summary or hand-off notes) and what it changed."""

    summary_markdown: str
    branch: str | None = None
    pull_request_url: str | None = None
    pull_request_number: int | None = None
    review_url: str | None = None
    changed_files: tuple[str, ...] = field(default=())
    diff_stats: DiffStats = field(default_factory=DiffStats)
    partial: bool = False  # the agent wrapped up early (budget, steps, time) and says what is left


# --- the task entity ----------------------------------------------------------------------------------

MAX_INSTRUCTIONS_LENGTH = 20_000
MIN_PRIORITY, MAX_PRIORITY = 0, 10
DEFAULT_PRIORITY = 5
DEFAULT_MAX_ATTEMPTS = 3
WRAP_UP_FRACTION = 0.8  # the budget signals "wrap up" once this share of the cap is spent


class TaskNotFound(NotFound):
    code = "task_not_found"


class TaskNotQueued(Conflict):
    """Only a queued task may be edited."""

    code = "task_not_queued"


class TaskFinished(Conflict):
    """A finished task cannot be cancelled."""

    code = "task_finished"


class TaskIdempotencyKeyTaken(Conflict):
    """Another task of the user already carries this idempotency key (raised by the repository on insert)."""

    code = "idempotency_key_reused"


class ConcurrencyLimitReached(TooManyRequests):
    """The user already has as many active (queued or running) tasks as their plan allows."""

    code = "concurrency_limit_reached"


# Plan weight for scheduling: higher classes are picked first (Enterprise before Pro before Free).
PRIORITY_CLASS_BY_PLAN = {"free": 0, "starter": 1, "pro": 2, "team": 3, "enterprise": 4}


def priority_class_for_plan(plan_code: str) -> int:
    return PRIORITY_CLASS_BY_PLAN.get(plan_code, 1)


@dataclass(frozen=True, slots=True)
class ModeRule:
    needs: Permission  # the repository access the mode needs
    writes: bool  # takes the per-repository writing lock (pushes a branch or opens a PR)
    needs_pull_request: bool = False


MODE_RULES: dict[TaskMode, ModeRule] = {
    TaskMode.ASK: ModeRule(Permission.READ, writes=False),
    TaskMode.ARCHITECT: ModeRule(Permission.READ, writes=False),
    TaskMode.DEBUG: ModeRule(Permission.WRITE, writes=True),
    TaskMode.DOCUMENTATION: ModeRule(Permission.WRITE, writes=True),
    TaskMode.PR_REVIEW: ModeRule(Permission.READ, writes=False, needs_pull_request=True),
}


def validate_task_request(
    mode: TaskMode,
    instructions: str,
    *,
    base_branch: str | None,
    pull_request_number: int | None,
    budget_cap_credits: int,
    priority: int,
) -> str:
    """Checks a submission's shape; returns the normalised instructions. Raises ``InvalidInput``."""
    problems: list[FieldProblem] = []
    text = instructions.strip()
    if not text or len(text) > MAX_INSTRUCTIONS_LENGTH:
        problems.append(FieldProblem("instructions", f"must be 1 to {MAX_INSTRUCTIONS_LENGTH} characters"))
    rule = MODE_RULES[mode]
    if rule.needs_pull_request and pull_request_number is None:
        problems.append(FieldProblem("pull_request_number", "is required for pr_review"))
    if not rule.needs_pull_request and pull_request_number is not None:
        problems.append(FieldProblem("pull_request_number", "is only allowed for pr_review"))
    if pull_request_number is not None and base_branch is not None:
        problems.append(FieldProblem("base_branch", "give a base branch or a pull request, not both"))
    if pull_request_number is not None and pull_request_number < 1:
        problems.append(FieldProblem("pull_request_number", "must be positive"))
    if budget_cap_credits < 1:
        problems.append(FieldProblem("budget_cap_credits", "must be at least 1"))
    if not MIN_PRIORITY <= priority <= MAX_PRIORITY:
        problems.append(FieldProblem("priority", f"must be {MIN_PRIORITY} to {MAX_PRIORITY}"))
    if problems:
        raise InvalidInput("The task request is not valid.", problems=problems)
    return text


@dataclass(frozen=True, slots=True)
class Task:
    """One task. ``writes`` tasks hold their repository's writing lock while running.

    ``hold_id`` is the credit hold of the budget cap (taken at submit). ``platform_fee_credits`` is set on a
    BYOK-only task (every model it may call answers on the user's own key): its hold and its charge are that
    fee instead of the budget, and its calls never fall back to a platform key.
    ``settled_credits`` is what the task finally cost (``None`` until it is settled); ``charge_waived`` says
    the hold was released because the failure was the platform's or a provider's fault.
    ``request_fingerprint`` identifies the submitted body under ``idempotency_key``.
    """

    id: UUID
    user_id: UUID
    repository_id: UUID
    mode: TaskMode
    instructions: str
    budget_cap_credits: int
    priority: int
    priority_class: int
    concurrency_limit: int
    status: TaskStatus
    created_at: datetime
    updated_at: datetime
    base_branch: str | None = None
    pull_request_number: int | None = None
    model_id: UUID | None = None
    failure_reason: FailureReason | None = None
    failure_message: str | None = None
    attempt: int = 0
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    hold_id: UUID | None = None
    worker_id: str | None = None
    heartbeat_at: datetime | None = None
    not_before: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    result: TaskResult | None = None
    settled_credits: int | None = None
    charge_waived: bool = False
    idempotency_key: str | None = None
    request_fingerprint: str | None = None
    platform_fee_credits: int | None = None

    @property
    def byok_only(self) -> bool:
        return self.platform_fee_credits is not None

    @property
    def writes(self) -> bool:
        return MODE_RULES[self.mode].writes

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()

    def can_retry(self) -> bool:
        return self.attempt < self.max_attempts


def can_transition(current: TaskStatus, new: TaskStatus) -> bool:
    """The lifecycle: queued -> running | cancelled; running -> queued (retry) | any terminal state."""
    if current is TaskStatus.QUEUED:
        return new in (TaskStatus.RUNNING, TaskStatus.CANCELLED)
    if current is TaskStatus.RUNNING:
        return new in (TaskStatus.QUEUED, TaskStatus.SUCCEEDED, TaskStatus.FAILED, TaskStatus.CANCELLED)
    return False


def retry_backoff(
    attempt: int, *, base: timedelta = timedelta(seconds=5), cap: timedelta = timedelta(minutes=5)
) -> timedelta:
    """How long a transiently failed attempt waits before the next: ``base * 2**(attempt-1)``, capped."""
    delay: timedelta = base * (2 ** max(0, attempt - 1))
    return min(cap, delay)


def charge_for(
    failure: FailureReason | None,
    spent_credits: int,
    cap_credits: int,
    *,
    platform_fee_credits: int | None = None,
    ran: bool = True,
) -> tuple[int, bool]:
    """What an ended task is charged and whether the charge was waived.

    Successes, cancels, timeouts, budget exhaustion and the user's own mistakes pay for the usage (never more
    than the cap); platform or provider faults pay nothing. A BYOK-only task (``platform_fee_credits`` set)
    pays the fee instead of usage, once it ``ran`` (a task cancelled while queued pays nothing), and nothing
    on a platform or provider fault.
    """
    if failure is not None and failure.platform_fault:
        return 0, True
    if platform_fee_credits is not None:
        return (min(platform_fee_credits, cap_credits) if ran else 0), False
    return min(max(0, spent_credits), cap_credits), False


def fair_order(queued: list[Task], running_per_user: dict[UUID, int]) -> list[Task]:
    """The order in which queued tasks are claimed (and ``queue_position`` counts).

    Higher ``priority_class`` first; then round-robin across users: a task's round is the number of its
    user's tasks already running plus the number of that user's queued tasks ahead of it (by priority, then
    age), so one user's 50 queued tasks do not starve another's one; then ``priority``; then age.
    """
    by_user: dict[UUID, list[Task]] = {}
    for task in sorted(queued, key=lambda t: (-t.priority, t.created_at, t.id)):
        by_user.setdefault(task.user_id, []).append(task)
    keyed: list[tuple[tuple[int, int, int, datetime, UUID], Task]] = []
    for user_id, tasks in by_user.items():
        for index, task in enumerate(tasks):
            rank = running_per_user.get(user_id, 0) + index
            keyed.append(((-task.priority_class, rank, -task.priority, task.created_at, task.id), task))
    keyed.sort(key=lambda pair: pair[0])
    return [task for _, task in keyed]
