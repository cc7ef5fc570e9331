"""Writing to the outbox: one call in the transaction of each change a user may be told about.

``publish`` stores the event once (its id is derived from the fact's natural key, so recording the same fact
twice is a no-op) and one pending delivery per enabled endpoint of the user that wants the type. A user with
no endpoint costs one indexed read and no write.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from uuid import UUID

from asynccoder.application.ports.uow import UnitOfWork
from asynccoder.domain.tasks import Task, TaskStatus
from asynccoder.domain.webhook_endpoints import (
    DeliveryStatus,
    WebhookDelivery,
    WebhookEvent,
    WebhookEventType,
    event_body,
    event_id,
)

TASK_EVENT_TYPES: dict[TaskStatus, WebhookEventType] = {
    TaskStatus.QUEUED: WebhookEventType.TASK_QUEUED,
    TaskStatus.RUNNING: WebhookEventType.TASK_STARTED,
    TaskStatus.SUCCEEDED: WebhookEventType.TASK_SUCCEEDED,
    TaskStatus.FAILED: WebhookEventType.TASK_FAILED,
    TaskStatus.CANCELLED: WebhookEventType.TASK_CANCELLED,
}


def _time(at: datetime | None) -> str | None:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ") if at is not None else None


def task_object(task: Task) -> dict[str, Any]:
    result = task.result
    return {
        "object": "task",
        "id": str(task.id),
        "status": task.status.value,
        "mode": task.mode.value,
        "repository_id": str(task.repository_id),
        "attempt": task.attempt,
        "failure_reason": task.failure_reason.value if task.failure_reason else None,
        "failure_message": task.failure_message,
        "created_at": _time(task.created_at),
        "started_at": _time(task.started_at),
        "finished_at": _time(task.finished_at),
        "settled_credits": task.settled_credits,
        "pull_request_url": result.pull_request_url if result else None,
    }


async def publish(
    uow: UnitOfWork,
    at: datetime,
    user_id: UUID,
    type: WebhookEventType,
    obj: dict[str, Any],
    *,
    key: str,
    balance: tuple[int, int] | None = None,
) -> WebhookEvent | None:
    """Record ``type`` about ``obj`` for ``user_id``'s endpoints, inside the caller's transaction.

    ``key`` names the fact (``task:<id>:<seq>``, ``stripe:<event id>``); ``balance`` is ``(before, after)``
    for ``credits.low``: only endpoints whose threshold lies in ``(after, before]`` get it.
    Returns the event, or ``None`` when no endpoint wants it or it was recorded before.
    """
    endpoints = [e for e in await uow.webhook_endpoints.list_enabled(user_id) if e.wants(type)]
    if balance is not None:
        before, after = balance
        endpoints = [
            e
            for e in endpoints
            if e.credits_low_threshold is not None and after < e.credits_low_threshold <= before
        ]
    if not endpoints:
        return None
    id_ = event_id(at, f"{type.value}:{key}")
    body = json.dumps(event_body(id_, type, at, obj), separators=(",", ":"), ensure_ascii=False)
    event = WebhookEvent(id=id_, user_id=user_id, type=type, created_at=at, body=body)
    if not await uow.webhook_outbox.add_event(event):
        return None
    for endpoint in endpoints:
        await uow.webhook_outbox.add_delivery(
            WebhookDelivery(
                id=event_id(at, f"delivery:{id_}:{endpoint.id}"),
                endpoint_id=endpoint.id,
                event_id=id_,
                event_type=type,
                status=DeliveryStatus.PENDING,
                next_attempt_at=at,
                created_at=at,
            )
        )
    return event


async def publish_task_status(uow: UnitOfWork, task: Task, at: datetime, seq: int) -> None:
    """The ``task.*`` event of the transition whose status event has sequence ``seq``."""
    await publish(
        uow, at, task.user_id, TASK_EVENT_TYPES[task.status], task_object(task), key=f"{task.id}:{seq}"
    )
