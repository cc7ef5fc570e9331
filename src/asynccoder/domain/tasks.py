"""Tasks: a unit of AI coding work a user hands to the platform, and its lifecycle.

A task moves ``queued -> running -> succeeded | failed | cancelled`` (a running task may also go back to
``queued`` for a retry after a transient failure or a lost worker). Every change of state is a conditional
update on the expected current state, so a stale worker can never overwrite a newer state.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from asynccoder.domain.ai_catalogue import TaskMode

__all__ = ["FailureReason", "TaskMode", "TaskResult", "TaskStatus"]


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
