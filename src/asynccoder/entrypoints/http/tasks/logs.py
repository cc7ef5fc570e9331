"""``/api/v1/tasks/{task_id}/logs``: the task's log lines, paged by sequence number."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from dishka.integrations.litestar import FromDishka, inject
from litestar import Controller, get
from litestar.params import FromPath, QueryParameter

from asynccoder.application.tasks.manage import ListTaskLogs
from asynccoder.domain.identity import Actor
from asynccoder.entrypoints.http.tasks.schemas import INVALID, NOT_FOUND, LogPageOut, log_line_out


class TaskLogsController(Controller):
    path = "/tasks/{task_id:uuid}/logs"
    tags = ["tasks"]

    @get("/", operation_id="tasks_logs", summary="Read a task's log", responses={**INVALID, **NOT_FOUND})
    @inject
    async def logs(
        self,
        actor: FromDishka[Actor],
        list_logs: FromDishka[ListTaskLogs],
        task_id: FromPath[UUID],
        after: Annotated[int, QueryParameter(ge=0, description="Lines after this sequence number")] = 0,
        limit: Annotated[int, QueryParameter(ge=1, le=500, description="Page size (max 500)")] = 100,
    ) -> LogPageOut:
        """Log lines in order; pass ``next_after`` as ``after`` for the next page."""
        page = await list_logs(actor, task_id, after=after, limit=limit)
        return LogPageOut([log_line_out(e) for e in page.items], page.next_after)
