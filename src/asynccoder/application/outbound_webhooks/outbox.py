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
from asynccoder.domain.ai_catalogue import ApiKey
from asynccoder.domain.billing import Subscription
from asynccoder.domain.code_hosting import PullRequest, PullRequestReview
from asynccoder.domain.tasks import FailureReason, Task, TaskStatus
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
    id_at: datetime | None = None,
) -> WebhookEvent | None:
    """Record ``type`` about ``obj`` for ``user_id``'s endpoints, inside the caller's transaction.

    ``key`` names the fact (``task:<id>:<seq>``, ``stripe:<event id>``); ``balance`` is ``(before, after)``
    for ``credits.low``: only endpoints whose threshold lies in ``(after, before]`` get it. ``id_at`` (default
    ``at``) is the time part of the id: give the fact's own time when the same fact may be recorded again
    later (a reused pull request, a redelivered Stripe event), so the second record is a no-op.
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
    id_ = event_id(id_at or at, f"{type.value}:{key}")
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
    """The ``task.*`` event of the transition whose status event has sequence ``seq``; a task that failed
    because its budget cap was reached also gives ``budget.exceeded``."""
    obj = task_object(task)
    await publish(uow, at, task.user_id, TASK_EVENT_TYPES[task.status], obj, key=f"{task.id}:{seq}")
    if task.status is TaskStatus.FAILED and task.failure_reason is FailureReason.BUDGET_EXHAUSTED:
        budget = {**obj, "budget_cap_credits": task.budget_cap_credits}
        await publish(uow, at, task.user_id, WebhookEventType.BUDGET_EXCEEDED, budget, key=f"{task.id}:{seq}")


def _pull_object(pull: PullRequest) -> dict[str, Any]:
    return {
        "object": "pull_request",
        "id": str(pull.id),
        "repository_id": str(pull.repository_id),
        "number": pull.number,
        "title": pull.title,
        "state": pull.state.value,
        "html_url": pull.html_url,
        "draft": pull.draft,
    }


async def publish_pull_request_opened(
    uow: UnitOfWork, at: datetime, user_id: UUID, pull: PullRequest
) -> None:
    """Once per pull request (a reused one was announced when it was first recorded)."""
    obj = _pull_object(pull)
    kind = WebhookEventType.PULL_REQUEST_OPENED
    await publish(uow, at, user_id, kind, obj, key=str(pull.id), id_at=pull.created_at)


async def publish_review_posted(
    uow: UnitOfWork, at: datetime, user_id: UUID, pull: PullRequest, review: PullRequestReview
) -> None:
    obj = {
        "object": "review",
        "id": str(review.id),
        "state": review.state,
        "commit_sha": review.commit_sha,
        "pull_request": _pull_object(pull),
    }
    await publish(uow, at, user_id, WebhookEventType.REVIEW_POSTED, obj, key=str(review.id))


async def publish_api_key_invalid(uow: UnitOfWork, at: datetime, key: ApiKey) -> None:
    """When a key of the user's own (BYOK) is marked invalid."""
    obj = {"object": "api_key", "id": str(key.id), "provider": key.provider.value, "last4": key.last4}
    await publish(
        uow, at, key.user_id, WebhookEventType.API_KEY_INVALID, obj, key=f"{key.id}:{at.isoformat()}"
    )


async def publish_subscription_changed(
    uow: UnitOfWork, at: datetime, subscription: Subscription, *, source_event_id: str, source_at: datetime
) -> None:
    """``source_event_id``: the Stripe event applied (a redelivery records nothing new)."""
    obj = {
        "object": "subscription",
        "id": str(subscription.id),
        "plan_id": str(subscription.plan_id),
        "status": subscription.status.value,
        "current_period_end": _time(subscription.current_period_end),
        "cancel_at_period_end": subscription.cancel_at_period_end,
    }
    kind = WebhookEventType.SUBSCRIPTION_CHANGED
    await publish(uow, at, subscription.user_id, kind, obj, key=source_event_id, id_at=source_at)


async def publish_credits_low(
    uow: UnitOfWork, at: datetime, user_id: UUID, *, before: int, after: int, key: str
) -> None:
    """When a spend took the balance from ``before`` to ``after`` credits: endpoints whose
    ``credits_low_threshold`` lies in ``(after, before]`` are told."""
    if after >= before:
        return
    obj = {"object": "credit_balance", "user_id": str(user_id), "available_credits": after}
    await publish(uow, at, user_id, WebhookEventType.CREDITS_LOW, obj, key=key, balance=(before, after))
