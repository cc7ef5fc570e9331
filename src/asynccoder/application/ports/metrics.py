"""Ports of operational metrics: what use cases count as they run, and the levels read at scrape time.

Labels are bounded by construction: modes, statuses, outcomes and sources are enum values, providers and
models come from the admin-curated catalogue (never from a provider's reply), and nothing is labelled by
user, task, repository or any other id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class ModelCallMetric:
    """One attempt on one catalogue model: ``outcome`` is ``ok`` or the failure's ``CallOutcome`` value."""

    provider: str
    model: str
    outcome: str
    latency_ms: int
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    charged_credits: int = 0


@dataclass(frozen=True, slots=True)
class OperationsSnapshot:
    """The queue and the credit holds at one moment."""

    queued_tasks: int
    oldest_queued_at: datetime | None  # submission time of the oldest task still queued
    active_holds: int
    held_credits: int  # credits reserved by the active holds


class Metrics(Protocol):
    """Counts what happens; every method is cheap, synchronous and never raises."""

    def task_transitioned(self, mode: str, status: str) -> None:
        """A task of ``mode`` entered ``status`` (a committed transition)."""
        ...

    def agent_step(self, mode: str) -> None:
        """The agent running a task of ``mode`` completed one step (one model turn)."""
        ...

    def model_called(self, call: ModelCallMetric) -> None: ...

    def webhook_delivered(self, source: str, outcome: str) -> None:
        """An inbound webhook delivery from ``source`` (``stripe``, ``github``) ended with ``outcome``."""
        ...

    def operations_observed(self, snapshot: OperationsSnapshot, at: datetime) -> None:
        """The levels to expose, read at ``at`` (the oldest queued age is ``at - oldest_queued_at``)."""
        ...


class OperationsGauges(Protocol):
    """Reads the queue depth, the oldest queued task and the outstanding credit holds in one cheap pass
    (aggregates over indexed status columns; no row is loaded)."""

    async def snapshot(self) -> OperationsSnapshot: ...


class NoMetrics(Metrics):
    """Counts nothing: the default of use cases built without metrics."""

    def task_transitioned(self, mode: str, status: str) -> None:
        return None

    def agent_step(self, mode: str) -> None:
        return None

    def model_called(self, call: ModelCallMetric) -> None:
        return None

    def webhook_delivered(self, source: str, outcome: str) -> None:
        return None

    def operations_observed(self, snapshot: OperationsSnapshot, at: datetime) -> None:
        return None


NO_METRICS: Metrics = NoMetrics()
