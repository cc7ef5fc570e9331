"""In-memory metrics: counts kept in dictionaries (tests read them), and the operational levels read from the
in-memory store."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from asynccoder.adapters.memory.store import InMemoryStore
from asynccoder.adapters.memory.tasks import tasks_state
from asynccoder.application.ports.metrics import (
    Metrics,
    ModelCallMetric,
    OperationsGauges,
    OperationsSnapshot,
)
from asynccoder.domain.billing import HoldStatus
from asynccoder.domain.tasks import TaskStatus


class InMemoryMetrics(Metrics):
    """Keeps every count in process memory, keyed by its labels."""

    def __init__(self) -> None:
        self.transitions: Counter[tuple[str, str]] = Counter()
        self.agent_steps: Counter[str] = Counter()
        self.model_calls: list[ModelCallMetric] = []
        self.webhooks: Counter[tuple[str, str]] = Counter()
        self.operations: tuple[OperationsSnapshot, datetime] | None = None

    def task_transitioned(self, mode: str, status: str) -> None:
        self.transitions[(mode, status)] += 1

    def agent_step(self, mode: str) -> None:
        self.agent_steps[mode] += 1

    def model_called(self, call: ModelCallMetric) -> None:
        self.model_calls.append(call)

    def webhook_delivered(self, source: str, outcome: str) -> None:
        self.webhooks[(source, outcome)] += 1

    def operations_observed(self, snapshot: OperationsSnapshot, at: datetime) -> None:
        self.operations = (snapshot, at)


class InMemoryOperationsGauges(OperationsGauges):
    def __init__(self, store: InMemoryStore) -> None:
        self._store = store

    async def snapshot(self) -> OperationsSnapshot:
        queued = [t for t in tasks_state(self._store).tasks.values() if t.status is TaskStatus.QUEUED]
        holds = [h for h in self._store.state.billing.holds.values() if h.status is HoldStatus.ACTIVE]
        return OperationsSnapshot(
            queued_tasks=len(queued),
            oldest_queued_at=min((t.created_at for t in queued), default=None),
            active_holds=len(holds),
            held_credits=sum(h.amount for h in holds),
        )
