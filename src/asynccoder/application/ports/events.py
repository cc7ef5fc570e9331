"""Ports of a task's event stream: persisted events with a per-task sequence, and coalesced live notification.

Every change a user can watch (status, log line, usage, result) is appended as a ``TaskEvent`` with the
next sequence number of its task, in the same transaction as the change. Live readers are told *that* a task
has new events (the highest sequence), never the events themselves: they read them from the repository after
the last sequence they saw, which makes resume by ``Last-Event-ID`` lossless and duplicate-free.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID


class TaskEventType(enum.StrEnum):
    STATUS = "status"
    LOG = "log"
    USAGE = "usage"
    RESULT = "result"


@dataclass(frozen=True, slots=True)
class TaskEvent:
    task_id: UUID
    seq: int  # 1, 2, 3 ... per task
    type: TaskEventType
    data: dict[str, Any]  # JSON-able
    created_at: datetime


class TaskEventRepository(Protocol):
    """Appends a task's events with gap-free per-task sequence numbers; reads them back in order."""

    async def append(
        self, task_id: UUID, type: TaskEventType, data: dict[str, Any], at: datetime
    ) -> TaskEvent: ...

    async def list_after(self, task_id: UUID, after_seq: int, *, limit: int) -> list[TaskEvent]: ...


class TaskEventNotifier(Protocol):
    """Fans out "task X has events up to seq N" to every API process (memory, Redis or PostgreSQL backend).

    ``notify`` is cheap and coalesced: many calls in a short window become one message per task.
    ``listen`` yields sequence numbers (possibly skipping some) until the iterator is closed.
    """

    async def notify(self, task_id: UUID, seq: int) -> None: ...

    def listen(self, task_id: UUID) -> AsyncIterator[int]: ...
