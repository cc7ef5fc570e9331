"""The Stripe webhook receiver (public: events are authenticated by their signature)."""

from __future__ import annotations

from typing import Any

import msgspec
from dishka.integrations.litestar import FromDishka, inject
from litestar import Controller, Request, post
from litestar.status_codes import HTTP_200_OK

from asynccoder.application.billing.stripe_events import HandleStripeEvent, HandleStripeEventInput
from asynccoder.application.ports.metrics import Metrics
from asynccoder.domain.errors import DomainError
from asynccoder.entrypoints.http.auth import PUBLIC
from asynccoder.entrypoints.http.common import (
    problem_responses,
)


class WebhookAck(msgspec.Struct):
    received: bool
    duplicate: bool


class StripeWebhookController(Controller):
    path = "/webhooks/stripe"
    tags = ["webhooks"]
    opt = PUBLIC

    @post(
        operation_id="stripe_webhook",
        summary="Stripe events",
        status_code=HTTP_200_OK,
        responses=problem_responses(400, 422, 503),
    )
    @inject
    async def receive(
        self,
        request: Request[Any, Any, Any],
        use_case: FromDishka[HandleStripeEvent],
        metrics: FromDishka[Metrics],
    ) -> WebhookAck:
        """Stripe calls this with signed events (``Stripe-Signature``). Bad or stale signatures get 400 and
        change nothing, as do signed events that are not Stripe events (``invalid_event``: an unusable id or
        type, a ``created`` that is not a time); a missing ``created`` counts as the receipt time. A repeated
        event is acknowledged without a second effect; unknown types are ignored. 503 when Stripe cannot be
        asked for the subscription's current state (Stripe redelivers)."""
        payload = await request.body()
        try:
            result = await use_case(HandleStripeEventInput(payload, request.headers.get("stripe-signature")))
        except DomainError:
            metrics.webhook_delivered("stripe", "rejected")
            raise
        outcome = "duplicate" if result.duplicate else "applied" if result.applied else "ignored"
        metrics.webhook_delivered("stripe", outcome)
        return WebhookAck(received=True, duplicate=result.duplicate)
