"""The execution contract between the task engine and whatever does a task's work (the coding agent).

The engine builds a ``TaskExecution`` for one attempt of one task and calls ``TaskRunner.run`` with it. The
runner never touches credits, the queue or the task row itself: it asks the budget before spending, writes log
lines to the sink, checks the cancellation signal between steps (and races it against slow calls), and returns
an outcome. Whatever the outcome, also on an exception, a timeout or a lost worker, the engine settles the
usage the budget recorded and releases the rest of the hold.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from asynccoder.domain.ai import ChatRequest, ChatResponse
from asynccoder.domain.ai_catalogue import KeySource
from asynccoder.domain.tasks import FailureReason, TaskMode, TaskResult


class BudgetExhausted(Exception):
    """The next model call could cost more than the task's budget has left."""


class TaskCancelled(Exception):
    """The task was cancelled while the runner was waiting on something."""


class LogLevel(enum.StrEnum):
    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


class TaskLogSink(Protocol):
    """Appends one line to the task's log (persisted with a per-task sequence number, fanned out live).

    ``data`` is a small JSON-able dict (tool name, argument summary, sizes, tokens); never secrets, never
    whole file contents.
    """

    async def write(self, level: LogLevel, message: str, data: dict[str, Any] | None = None) -> None: ...


class CancellationSignal(Protocol):
    """Set when the user cancels the task, the wall-clock limit passes, or the worker shuts down."""

    @property
    def cancelled(self) -> bool: ...

    async def wait(self) -> None:
        """Returns once cancelled."""
        ...


@dataclass(frozen=True, slots=True)
class ModelCall:
    """One completed model call as the budget recorded it."""

    model_id: UUID
    answered_model: str
    key_source: KeySource
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    cost_credits: int  # what the call cost at the price in force
    charged_credits: int  # platform credits it uses from the hold (0 on the user's own key)
    price_id: UUID | None  # the price version in effect


class TaskModels(Protocol):
    """The task's model access: plan tiers, the chosen or default model, fallback, the user's key or the
    platform's, and the budget, in one call.

    ``complete`` first asks the budget whether ``reserve_credits`` (an upper bound for this call, computed
    from the request's size and ``max_tokens``) may be spent; if not it raises ``BudgetExhausted``
    without calling. After the call it records the usage against the task (receipt) and the budget. A
    cancellation during the call raises ``TaskCancelled``. Provider failures after every fallback raise
    the ``ProviderError``.
    """

    @property
    def context_window(self) -> int: ...

    @property
    def max_output_tokens(self) -> int: ...

    async def complete(self, request: ChatRequest) -> ChatResponse: ...


class TaskBudget(Protocol):
    """The task's credit budget: the cap, what was spent, and the wrap-up signal (at ~80% of the cap)."""

    @property
    def cap_credits(self) -> int: ...

    @property
    def spent_credits(self) -> int: ...

    @property
    def should_wrap_up(self) -> bool: ...

    def calls(self) -> tuple[ModelCall, ...]: ...


@dataclass(frozen=True, slots=True)
class RepositoryCheckout:
    """Where the task's code lives and how to reach it. The token is fetched fresh for each git operation."""

    repository_id: UUID
    full_name: str
    clone_url: str
    base_branch: str
    pull_request_number: int | None = None
    test_command: str | None = None  # from the repository's settings; Debug may run it in the sandbox


class GitCredentials(Protocol):
    """The token to clone or push with, fetched just before each use (long tasks outlive tokens)."""

    async def token(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class TaskExecution:
    """Everything a runner gets for one attempt of one task."""

    task_id: UUID
    user_id: UUID
    mode: TaskMode
    instructions: str
    attempt: int
    repository: RepositoryCheckout
    models: TaskModels
    budget: TaskBudget
    log: TaskLogSink
    cancellation: CancellationSignal
    deadline: datetime  # wall-clock limit, UTC
    git_credentials: GitCredentials
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TaskOutcome:
    """``result`` on success (possibly ``partial``); ``failure`` + ``message`` otherwise (``result`` may then
    hold a partial result with hand-off notes). ``transient`` asks the engine to retry with backoff."""

    result: TaskResult | None = None
    failure: FailureReason | None = None
    message: str | None = None
    transient: bool = False


class TaskRunner(Protocol):
    """Does one task's work. Must return (or raise) promptly once ``execution.cancellation`` is set."""

    async def run(self, execution: TaskExecution) -> TaskOutcome: ...
