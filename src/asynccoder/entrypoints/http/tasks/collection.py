"""``/api/v1/tasks`` and ``/api/v1/tasks/{task_id}``: submit, list, get, update, cancel."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from dishka.integrations.litestar import FromDishka, inject
from litestar import Controller, Response, delete, get, post, put
from litestar.params import FromPath, HeaderParameter, JSONBody, QueryParameter

from asynccoder.application.tasks.manage import (
    CancelTask,
    GetTask,
    ListTasks,
    ListTasksInput,
    UpdateTask,
    UpdateTaskInput,
)
from asynccoder.application.tasks.submit import SubmitTask, SubmitTaskInput
from asynccoder.domain.identity import Actor
from asynccoder.domain.tasks import TaskMode, TaskStatus
from asynccoder.entrypoints.http.common import parse_cursor, problem_response
from asynccoder.entrypoints.http.tasks.schemas import (
    INVALID,
    NOT_FOUND,
    CreateTaskIn,
    TaskListOut,
    TaskOut,
    UpdateTaskIn,
    task_out,
)

SUBMIT_ERRORS = {
    **INVALID,
    402: problem_response("Not enough credits to hold the budget cap (`insufficient_credits`)"),
    403: problem_response("The mode needs write access (`repository_write_access_required`)"),
    404: problem_response(
        "No such repository, pull request or model (`repository_not_found`, `pull_request_not_found`, "
        "`model_not_found`)"
    ),
    409: problem_response("The Idempotency-Key was used for a different body (`idempotency_key_reused`)"),
    422: problem_response(
        "The request breaks a rule (`validation_failed`, `model_not_allowed`, `no_provider_key`, "
        "`no_model_available`)"
    ),
    429: problem_response(
        "The plan's concurrent-task limit is reached (`concurrency_limit_reached`; `limit` in the body)"
    ),
}


class TaskController(Controller):
    path = "/tasks"
    tags = ["tasks"]

    @post(
        "/",
        operation_id="tasks_create",
        summary="Submit a task",
        status_code=202,
        responses=SUBMIT_ERRORS,
        description=SubmitTask.__doc__,
    )
    @inject
    async def create(
        self,
        actor: FromDishka[Actor],
        submit: FromDishka[SubmitTask],
        data: JSONBody[CreateTaskIn],
        idempotency_key: Annotated[
            str | None,
            HeaderParameter(
                name="Idempotency-Key",
                max_length=200,
                description="Retries with the same key and body return the same task",
            ),
        ] = None,
    ) -> Response[TaskOut]:
        submitted = await submit(
            SubmitTaskInput(
                actor=actor,
                repository_id=data.repository_id,
                mode=data.mode,
                instructions=data.instructions,
                base_branch=data.base_branch,
                pull_request_number=data.pull_request_number,
                model_id=data.model_id,
                budget_cap_credits=data.budget_cap_credits,
                priority=data.priority,
                idempotency_key=idempotency_key,
            )
        )
        out = task_out(submitted.task)
        return Response(out, status_code=202, headers={"Location": f"/api/v1/tasks/{out.id}"})

    @get("/", operation_id="tasks_list", summary="List tasks", responses=INVALID)
    @inject
    async def list_tasks(
        self,
        actor: FromDishka[Actor],
        list_tasks: FromDishka[ListTasks],
        status: Annotated[TaskStatus | None, QueryParameter(description="Only this status")] = None,
        mode: Annotated[TaskMode | None, QueryParameter(description="Only this mode")] = None,
        repository_id: Annotated[UUID | None, QueryParameter(description="Only this repository")] = None,
        created_after: Annotated[datetime | None, QueryParameter(description="inclusive")] = None,
        created_before: Annotated[datetime | None, QueryParameter(description="exclusive")] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=100, description="Page size (max 100)")] = 20,
        cursor: Annotated[str | None, QueryParameter(max_length=64, description="`next_cursor`")] = None,
    ) -> TaskListOut:
        """The caller's tasks, newest first, filtered by status, mode, repository and creation time."""
        page = await list_tasks(
            ListTasksInput(
                actor, status, mode, repository_id, created_after, created_before, parse_cursor(cursor), limit
            )
        )
        return TaskListOut(
            [task_out(t) for t in page.items], str(page.next_cursor) if page.next_cursor else None
        )

    @get(
        "/{task_id:uuid}",
        operation_id="tasks_get",
        summary="Get a task",
        responses=NOT_FOUND,
        description=GetTask.__doc__,
    )
    @inject
    async def get_task(
        self, actor: FromDishka[Actor], get_task: FromDishka[GetTask], task_id: FromPath[UUID]
    ) -> TaskOut:
        view = await get_task(actor, task_id)
        return task_out(view.task, view)

    @put(
        "/{task_id:uuid}",
        operation_id="tasks_update",
        summary="Change a queued task",
        responses={
            **INVALID,
            **NOT_FOUND,
            409: problem_response("The task already started (`task_not_queued`)"),
            422: problem_response("A value breaks a rule (`validation_failed`)"),
        },
        description=UpdateTask.__doc__,
    )
    @inject
    async def update(
        self,
        actor: FromDishka[Actor],
        update: FromDishka[UpdateTask],
        task_id: FromPath[UUID],
        data: JSONBody[UpdateTaskIn],
    ) -> TaskOut:
        return task_out(await update(UpdateTaskInput(actor, task_id, data.instructions, data.priority)))

    @delete(
        "/{task_id:uuid}",
        operation_id="tasks_cancel",
        summary="Cancel a task",
        status_code=200,
        responses={**NOT_FOUND, 409: problem_response("The task already ended (`task_finished`)")},
        description=CancelTask.__doc__,
    )
    @inject
    async def cancel(
        self, actor: FromDishka[Actor], cancel: FromDishka[CancelTask], task_id: FromPath[UUID]
    ) -> TaskOut:
        return task_out(await cancel(actor, task_id))
