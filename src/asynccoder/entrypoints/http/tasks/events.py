"""``GET /api/v1/tasks/{task_id}/events``: a task's live events as Server-Sent Events."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from dishka.integrations.litestar import FromDishka, inject
from litestar import Response, get
from litestar.openapi import ResponseSpec
from litestar.params import FromPath, HeaderParameter

from asynccoder.application.ports.uow import UnitOfWork
from asynccoder.application.tasks.streaming import OpenTaskEventStream, OpenTaskEventStreamInput
from asynccoder.domain.identity import Actor
from asynccoder.entrypoints.http.common import problem_response
from asynccoder.entrypoints.http.sse import sse_response

STREAM_RESPONSES = {
    204: ResponseSpec(data_container=None, description="The task has ended and the client has every event"),
    400: problem_response("`Last-Event-ID` is not the id of an event of this task (`invalid_last_event_id`)"),
    404: problem_response("No such task, or the caller may not see it (`task_not_found`)"),
    429: problem_response("The caller has too many open event streams (`too_many_streams`); see Retry-After"),
    503: problem_response("The shared stream count is unreachable (`dependency_unavailable`)"),
}


@get(
    "/tasks/{task_id:uuid}/events",
    operation_id="streamTaskEvents",
    summary="Follow a task's events live (Server-Sent Events)",
    tags=["tasks"],
    media_type="text/event-stream",
    responses=STREAM_RESPONSES,
    description=OpenTaskEventStream.__doc__,
)
@inject
async def stream_task_events(
    task_id: FromPath[UUID],
    actor: FromDishka[Actor],
    open_stream: FromDishka[OpenTaskEventStream],
    uow: FromDishka[UnitOfWork],
    last_event_id: Annotated[
        str | None,
        HeaderParameter(
            name="Last-Event-ID",
            required=False,
            description="Resume after this event id (an EventSource sends it on reconnect).",
        ),
    ] = None,
) -> Response[Any]:
    """Each event: ``id`` = its sequence number, ``event`` = status, log, usage or result, ``data`` = JSON
    ``{task_id, seq, type, created_at, data}``; ``: heartbeat`` comments while idle. The stream ends after the
    task's final status event."""
    stream = await open_stream(
        OpenTaskEventStreamInput(actor=actor, task_id=task_id, last_event_id=last_event_id)
    )
    # The stream outlives the request's reads: the connection the caller lookup kept goes back to the pool.
    await uow.release()
    return sse_response(stream)
