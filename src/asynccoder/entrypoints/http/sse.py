"""Server-Sent Events for task event streams: ``id:`` = sequence, ``event:`` = type, ``data:`` = JSON, and a
comment line as heartbeat.

The response frees the stream (its slot, its subscription) however it ends: when the stream is exhausted, when
the client disconnects while the stream waits (the cancellation runs its ``finally``), and, for a disconnect
while a chunk was being sent, in the response's background task, which Litestar runs after the body ends.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import msgspec
from litestar import Response
from litestar.background_tasks import BackgroundTask
from litestar.response import ServerSentEvent, ServerSentEventMessage

from asynccoder.application.ports.events import TaskEvent
from asynccoder.application.tasks.streaming import Heartbeat, TaskEventStream

__all__ = ["event_message", "heartbeat_message", "sse_response"]

# Browsers' EventSource reconnects after this many milliseconds when the line drops.
RECONNECT_MILLISECONDS = 3000


def event_message(event: TaskEvent) -> ServerSentEventMessage:
    body = {
        "task_id": str(event.task_id),
        "seq": event.seq,
        "type": event.type.value,
        "created_at": event.created_at,
        "data": event.data,
    }
    return ServerSentEventMessage(
        id=event.seq, event=event.type.value, data=msgspec.json.encode(body).decode()
    )


def heartbeat_message() -> ServerSentEventMessage:
    return ServerSentEventMessage(data=None, comment="heartbeat")


async def _messages(stream: TaskEventStream) -> AsyncIterator[ServerSentEventMessage]:
    yield ServerSentEventMessage(data=None, retry=RECONNECT_MILLISECONDS, comment="stream open")
    async for item in stream:
        yield heartbeat_message() if isinstance(item, Heartbeat) else event_message(item)


def sse_response(stream: TaskEventStream) -> Response[Any]:
    """200 ``text/event-stream`` for an open stream; 204 when there is nothing left to send (an EventSource
    stops reconnecting on 204)."""
    if stream.complete:
        return Response(content=None, status_code=204)
    return ServerSentEvent(_messages(stream), background=BackgroundTask(stream.aclose))
