"""``/api/v1/tasks/{task_id}/receipt``: every model call of a task and what was charged."""

from __future__ import annotations

from uuid import UUID

from dishka.integrations.litestar import FromDishka, inject
from litestar import Controller, get
from litestar.params import FromPath

from asynccoder.application.tasks.manage import GetTaskReceipt
from asynccoder.domain.identity import Actor
from asynccoder.entrypoints.http.tasks.schemas import NOT_FOUND, ReceiptOut, receipt_out


class TaskReceiptController(Controller):
    path = "/tasks/{task_id:uuid}/receipt"
    tags = ["tasks"]

    @get(
        "/",
        operation_id="tasks_receipt",
        summary="A task's receipt",
        responses=NOT_FOUND,
        description=GetTaskReceipt.__doc__,
    )
    @inject
    async def receipt(
        self, actor: FromDishka[Actor], get_receipt: FromDishka[GetTaskReceipt], task_id: FromPath[UUID]
    ) -> ReceiptOut:
        return receipt_out(await get_receipt(actor, task_id))
