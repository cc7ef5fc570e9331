"""Task event notifications over a Litestar channels backend: in process, Redis pub/sub or PostgreSQL NOTIFY.

One channel per deployment carries every task's notifications; each process subscribes to it once and fans
the messages out to its local listeners by task id. Publishing is coalesced: ``notify`` only records the
highest sequence per task, and one message per window (``coalesce_seconds``) carries every task notified in it
- never one NOTIFY per log line. The same class runs in the API (started by the container) and in a worker
process with no HTTP app: it drives the backend itself (``on_startup``/``subscribe``/``publish``/
``stream_events``) instead of going through ``ChannelsPlugin``, whose subscriber task dies silently when the
backend's stream fails and whose shutdown waits forever on a failed publish.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any
from uuid import UUID

import structlog
from litestar.channels.backends.base import ChannelsBackend

from asynccoder.application.ports.events import TaskEventNotifier

__all__ = ["DEFAULT_CHANNEL", "ChannelsTaskEventNotifier"]

DEFAULT_CHANNEL = "asynccoder_task_events"
# PostgreSQL refuses NOTIFY payloads of 8000 bytes or more; one entry is about 45 bytes.
_MAX_TASKS_PER_MESSAGE = 100

log = structlog.get_logger("asynccoder.task_events")


class _Subscription(AsyncIterator[int]):
    """One local listener of one task; its first value (0) says the subscription is live."""

    def __init__(self, notifier: ChannelsTaskEventNotifier, task_id: UUID) -> None:
        self._notifier = notifier
        self.task_id = task_id
        self.latest = 0
        self._wake = asyncio.Event()
        self._registered = False
        self._closed = False

    def __aiter__(self) -> _Subscription:
        return self

    async def __anext__(self) -> int:
        if self._closed:
            raise StopAsyncIteration
        if not self._registered:
            await self._notifier._live.wait()
            self._registered = True
            self._notifier._register(self)
            return 0
        await self._wake.wait()
        self._wake.clear()
        if self._closed:
            raise StopAsyncIteration
        return self.latest

    def wake(self, seq: int) -> None:
        self.latest = max(self.latest, seq)
        self._wake.set()

    async def aclose(self) -> None:
        self._closed = True
        self._notifier._unregister(self)
        self._wake.set()


class ChannelsTaskEventNotifier(TaskEventNotifier):
    """Coalescing task event notifier on a Litestar channels backend; use as ``async with`` (or start/stop).

    Delivery is at most once (pub/sub): listeners re-read on their heartbeat anyway, and after a broken
    backend stream every local listener is woken so it re-reads at once.
    """

    def __init__(
        self,
        backend: ChannelsBackend,
        *,
        channel: str = DEFAULT_CHANNEL,
        coalesce_seconds: float = 0.05,
    ) -> None:
        self._backend = backend
        self._channel = channel
        self._coalesce_seconds = coalesce_seconds
        self._pending: dict[UUID, int] = {}
        self._flusher: asyncio.Task[None] | None = None
        self._reader: asyncio.Task[None] | None = None
        self._listeners: dict[UUID, set[_Subscription]] = {}
        self._live = asyncio.Event()
        self._started = False
        self.messages_published = 0  # for tests and metrics: how many broker messages notify() cost

    async def __aenter__(self) -> ChannelsTaskEventNotifier:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        if self._started:
            return
        self._started = True
        await self._backend.on_startup()
        await self._backend.subscribe([self._channel])
        self._reader = asyncio.create_task(self._read_forever())
        self._live.set()

    async def stop(self) -> None:
        if not self._started:
            return
        self._started = False
        if self._flusher is not None and not self._flusher.done():
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
        await self._flush()  # what was notified before shutdown still goes out
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        for subscriptions in list(self._listeners.values()):
            for subscription in list(subscriptions):
                await subscription.aclose()
        with contextlib.suppress(Exception):
            await self._backend.unsubscribe([self._channel])
        await self._backend.on_shutdown()
        self._live.clear()

    async def notify(self, task_id: UUID, seq: int) -> None:
        if seq > self._pending.get(task_id, 0):
            self._pending[task_id] = seq
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_after_window())

    def listen(self, task_id: UUID) -> AsyncIterator[int]:
        return _Subscription(self, task_id)

    def listener_count(self, task_id: UUID | None = None) -> int:
        if task_id is not None:
            return len(self._listeners.get(task_id, ()))
        return sum(len(group) for group in self._listeners.values())

    def _register(self, subscription: _Subscription) -> None:
        self._listeners.setdefault(subscription.task_id, set()).add(subscription)

    def _unregister(self, subscription: _Subscription) -> None:
        group = self._listeners.get(subscription.task_id)
        if group is not None:
            group.discard(subscription)
            if not group:
                del self._listeners[subscription.task_id]

    async def _flush_after_window(self) -> None:
        await asyncio.sleep(self._coalesce_seconds)
        await self._flush()

    async def _flush(self) -> None:
        if not self._pending:
            return
        pending, self._pending = self._pending, {}
        items = list(pending.items())
        for start in range(0, len(items), _MAX_TASKS_PER_MESSAGE):
            chunk = items[start : start + _MAX_TASKS_PER_MESSAGE]
            payload = json.dumps({"t": {task_id.hex: seq for task_id, seq in chunk}}, separators=(",", ":"))
            try:
                await self._backend.publish(payload.encode(), [self._channel])
                self.messages_published += 1
            except Exception as exc:  # a lost notification delays readers to their next re-read, no more
                log.warning("task_event_publish_failed", error=type(exc).__name__, tasks=len(chunk))

    def _dispatch(self, payload: bytes) -> None:
        try:
            decoded: Any = json.loads(payload)
            entries = decoded["t"].items()
        except (ValueError, KeyError, TypeError, AttributeError):
            log.warning("task_event_message_malformed")
            return
        for raw_id, seq in entries:
            try:
                task_id = UUID(hex=raw_id)
            except (ValueError, TypeError):
                continue
            if not isinstance(seq, int):
                continue
            for subscription in list(self._listeners.get(task_id, ())):
                subscription.wake(seq)

    def _wake_everyone(self) -> None:
        for group in list(self._listeners.values()):
            for subscription in list(group):
                subscription.wake(0)

    async def _read_forever(self) -> None:
        delay = 0.1
        while True:
            try:
                async for _channel, payload in self._backend.stream_events():
                    delay = 0.1
                    self._dispatch(payload)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("task_event_stream_failed", error=type(exc).__name__)
            # Messages may have been lost while the stream was down: every listener re-reads.
            self._wake_everyone()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
            with contextlib.suppress(Exception):
                await self._backend.on_shutdown()
            try:
                await self._backend.on_startup()
                await self._backend.subscribe([self._channel])
            except Exception as exc:
                log.warning("task_event_resubscribe_failed", error=type(exc).__name__)
