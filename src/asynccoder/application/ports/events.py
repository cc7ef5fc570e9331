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

from asynccoder.domain.identity import Actor


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

    async def list_after(
        self, task_id: UUID, after_seq: int, *, limit: int, type: TaskEventType | None = None
    ) -> list[TaskEvent]:
        """Events with ``seq > after_seq`` in order (only of ``type`` when given)."""
        ...


class TaskEventNotifier(Protocol):
    """Fans out "task X has events up to seq N" to every API process (memory, Redis or PostgreSQL backend).

    ``notify`` is cheap and coalesced: many calls in a short window become one message per task.
    ``listen`` yields sequence numbers (possibly skipping some) until the iterator is closed. Its first value
    comes as soon as the subscription is live and is 0 ("read what is there"): a reader that reads the
    repository after that first value misses no notification. Delivery is best effort (a broker may drop a
    message): readers also re-read periodically.
    """

    async def notify(self, task_id: UUID, seq: int) -> None: ...

    def listen(self, task_id: UUID) -> AsyncIterator[int]: ...


class TaskEventAccess(Protocol):
    """Whether the caller may watch a task's events: its owner or an admin. ``False`` for unknown tasks."""

    async def can_watch(self, actor: Actor, task_id: UUID) -> bool: ...


class StreamSlots(Protocol):
    """Counts a user's open event streams across every API process, to cap them.

    ``acquire`` takes one of at most ``limit`` slots (``False`` when all are taken); a slot lives for
    ``lease_seconds`` unless renewed, so the slots of a crashed process come back on their own. ``release`` is
    idempotent.
    """

    async def acquire(self, user_id: UUID, slot_id: UUID, *, limit: int, lease_seconds: int) -> bool: ...

    async def renew(self, user_id: UUID, slot_id: UUID, *, lease_seconds: int) -> None: ...

    async def release(self, user_id: UUID, slot_id: UUID) -> None: ...

    async def count(self, user_id: UUID) -> int: ...
