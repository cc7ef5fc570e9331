"""A task's live event stream (Server-Sent Events): replay after ``Last-Event-ID``, then follow live.

The stream reads events from the repository only; notifications just say "read again". That makes a resume
lossless and duplicate-free whatever the broker does: the stream always continues after the last sequence it
sent, and a dropped notification costs at most one heartbeat interval of latency (the stream re-reads on every
heartbeat).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

from asynccoder.application.ports.events import (
    StreamSlots,
    TaskEvent,
    TaskEventAccess,
    TaskEventNotifier,
    TaskEventType,
)
from asynccoder.application.ports.system import Clock, IdGenerator
from asynccoder.domain.errors import FieldProblem, InvalidInput, NotFound, TooManyRequests
from asynccoder.domain.identity import Actor
from asynccoder.domain.tasks import TaskStatus

__all__ = [
    "Heartbeat",
    "OpenTaskEventStream",
    "OpenTaskEventStreamInput",
    "StreamSettings",
    "TaskEventReader",
    "TaskEventStream",
    "is_final_event",
    "parse_last_event_id",
]

_MAX_SEQ = 2**63 - 1


class TaskEventReader(Protocol):
    """The read side of ``TaskEventRepository`` (events after a sequence, in order)."""

    async def list_after(self, task_id: UUID, after_seq: int, *, limit: int) -> list[TaskEvent]: ...


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """Nothing happened for a heartbeat interval: the transport sends a comment to keep the line open."""


@dataclass(frozen=True, slots=True)
class StreamSettings:
    max_streams_per_user: int = 5
    heartbeat_seconds: float = 15.0
    page_size: int = 500
    retry_after_seconds: int = 5

    @property
    def lease_seconds(self) -> int:
        # A live stream renews its slot at least once per heartbeat; three missed renewals free it.
        return max(3, int(self.heartbeat_seconds * 3) + 1)


def parse_last_event_id(raw: str | None) -> int:
    """``Last-Event-ID`` as a sequence number: absent or empty -> 0 (from the start); else a whole number."""
    if raw is None or raw.strip() == "":
        return 0
    value = raw.strip()
    if not value.isascii() or not value.isdigit() or len(value) > 19 or int(value) > _MAX_SEQ:
        raise InvalidInput(
            "Last-Event-ID must be the id of an event of this stream.",
            problems=[FieldProblem("Last-Event-ID", "must be a whole number of this stream")],
            code="invalid_last_event_id",
        )
    return int(value)


def is_final_event(event: TaskEvent) -> bool:
    """A ``status`` event into a terminal state: the engine appends it last."""
    if event.type is not TaskEventType.STATUS:
        return False
    status = event.data.get("status")
    try:
        return isinstance(status, str) and TaskStatus(status).is_terminal
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class OpenTaskEventStreamInput:
    actor: Actor
    task_id: UUID
    last_event_id: str | None = None


class TaskEventStream:
    """An open stream: iterate it once; ``aclose`` ends it and frees its slot (idempotent, safe unstarted).

    ``complete`` is true when the task has ended and the client already has every event: there is nothing to
    stream (HTTP answers 204, which tells an EventSource to stop reconnecting) and no slot was taken.
    """

    def __init__(
        self,
        *,
        reader: TaskEventReader,
        notifier: TaskEventNotifier,
        slots: StreamSlots,
        clock: Clock,
        settings: StreamSettings,
        actor: Actor,
        task_id: UUID,
        slot_id: UUID | None,
        after_seq: int,
        finished: bool,
    ) -> None:
        self._reader = reader
        self._notifier = notifier
        self._slots = slots
        self._clock = clock
        self._settings = settings
        self._actor = actor
        self._task_id = task_id
        self._slot_id = slot_id
        self._after_seq = after_seq
        self._finished = finished
        self._released = slot_id is None
        self._generator = self._run()

    @property
    def complete(self) -> bool:
        return self._slot_id is None

    def __aiter__(self) -> AsyncIterator[TaskEvent | Heartbeat]:
        return self._generator

    async def aclose(self) -> None:
        try:
            with contextlib.suppress(RuntimeError):  # still running in another task: that task ends it
                await self._generator.aclose()
        finally:
            await self._release()

    async def _release(self) -> None:
        if not self._released and self._slot_id is not None:
            self._released = True
            await self._slots.release(self._actor.user_id, self._slot_id)

    async def _run(self) -> AsyncGenerator[TaskEvent | Heartbeat, None]:
        if self._slot_id is None:
            return
        slot_id = self._slot_id
        notified = asyncio.Event()
        subscribed = asyncio.Event()
        pump = asyncio.create_task(self._pump(notified, subscribed))
        try:
            # Subscribe before the first read so that nothing appended after that read goes unnoticed.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._settings.heartbeat_seconds):
                    await subscribed.wait()
            last = self._after_seq
            finished = self._finished
            renewed = self._clock.now()
            while True:
                notified.clear()
                while True:
                    batch = await self._reader.list_after(self._task_id, last, limit=self._settings.page_size)
                    for event in batch:
                        last = event.seq
                        finished = finished or is_final_event(event)
                        yield event
                    if len(batch) < self._settings.page_size:
                        break
                if finished:
                    return
                try:
                    async with asyncio.timeout(self._settings.heartbeat_seconds):
                        await notified.wait()
                except TimeoutError:
                    yield Heartbeat()
                now = self._clock.now()
                if (now - renewed).total_seconds() >= self._settings.heartbeat_seconds:
                    renewed = now
                    await self._slots.renew(
                        self._actor.user_id, slot_id, lease_seconds=self._settings.lease_seconds
                    )
        finally:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump
            await self._release()

    async def _pump(self, notified: asyncio.Event, subscribed: asyncio.Event) -> None:
        listener = self._notifier.listen(self._task_id)
        try:
            async for _seq in listener:
                subscribed.set()
                notified.set()
        finally:
            close = getattr(listener, "aclose", None)
            if close is not None:
                await close()


class OpenTaskEventStream:
    """Opens a caller's live stream of one task's events.

    Rules:
    - ``Last-Event-ID`` is absent (from the first event) or the id of an existing event of this task
      (anything else: 400 ``invalid_last_event_id``); the stream continues strictly after it, in sequence
      order, every event exactly once.
    - Only the task's owner or an admin may watch it; anyone else gets 404, as for an unknown task.
    - A user has at most ``max_streams_per_user`` open streams across all API processes (429
      ``too_many_streams`` with Retry-After); a stream's slot is freed when it ends, however it ends, and a
      crashed process's slots expire after ``lease_seconds``.
    - The stream ends after the task's terminal ``status`` event (and anything after it) was sent; while it is
      idle, a heartbeat comes every ``heartbeat_seconds``.
    """

    def __init__(
        self,
        reader: TaskEventReader,
        notifier: TaskEventNotifier,
        access: TaskEventAccess,
        slots: StreamSlots,
        clock: Clock,
        ids: IdGenerator,
        settings: StreamSettings,
    ) -> None:
        self._reader = reader
        self._notifier = notifier
        self._access = access
        self._slots = slots
        self._clock = clock
        self._ids = ids
        self._settings = settings

    async def __call__(self, command: OpenTaskEventStreamInput) -> TaskEventStream:
        after_seq = parse_last_event_id(command.last_event_id)
        if not await self._access.can_watch(command.actor, command.task_id):
            raise NotFound("No such task.", code="task_not_found")
        finished = False
        if after_seq > 0:
            known = await self._reader.list_after(command.task_id, after_seq - 1, limit=1)
            if not known or known[0].seq != after_seq:
                raise InvalidInput(
                    "Last-Event-ID names no event of this task.",
                    problems=[FieldProblem("Last-Event-ID", "names no event of this task")],
                    code="invalid_last_event_id",
                )
            finished = is_final_event(known[0])
            if finished and not await self._reader.list_after(command.task_id, after_seq, limit=1):
                return self._stream(command, None, after_seq, finished=True)
        slot_id = self._ids.new_id()
        acquired = await self._slots.acquire(
            command.actor.user_id,
            slot_id,
            limit=self._settings.max_streams_per_user,
            lease_seconds=self._settings.lease_seconds,
        )
        if not acquired:
            raise TooManyRequests(
                f"At most {self._settings.max_streams_per_user} event streams may be open at once.",
                retry_after=self._settings.retry_after_seconds,
                limit=self._settings.max_streams_per_user,
                code="too_many_streams",
            )
        return self._stream(command, slot_id, after_seq, finished=finished)

    def _stream(
        self, command: OpenTaskEventStreamInput, slot_id: UUID | None, after_seq: int, *, finished: bool
    ) -> TaskEventStream:
        return TaskEventStream(
            reader=self._reader,
            notifier=self._notifier,
            slots=self._slots,
            clock=self._clock,
            settings=self._settings,
            actor=command.actor,
            task_id=command.task_id,
            slot_id=slot_id,
            after_seq=after_seq,
            finished=finished,
        )
