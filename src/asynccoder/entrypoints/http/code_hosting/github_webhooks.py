"""The GitHub webhook receiver (public: deliveries are authenticated by their signature)."""

from __future__ import annotations

from typing import Any

import msgspec
from dishka.integrations.litestar import FromDishka, inject
from litestar import Request, Response, post
from litestar.openapi import ResponseSpec

from asynccoder.application.code_hosting.webhooks import IngestGitHubWebhook
from asynccoder.application.ports.code_hosting import WebhookDelivery
from asynccoder.application.ports.metrics import Metrics
from asynccoder.domain.errors import DomainError
from asynccoder.entrypoints.http.auth import PUBLIC
from asynccoder.entrypoints.http.common import problem_response


class WebhookAck(msgspec.Struct):
    status: str
    detail: str


GITHUB_MAX_DELIVERY_BYTES = 25 * 1024 * 1024


@post(
    "/webhooks/github",
    operation_id="webhooks_github",
    summary="Receive a GitHub webhook delivery",
    tags=["webhooks"],
    opt=PUBLIC,
    security=[],
    status_code=200,
    # GitHub caps deliveries at 25 MB; a large push or pull request must not be cut off by the API-wide limit.
    request_max_body_size=GITHUB_MAX_DELIVERY_BYTES,
    responses={
        202: ResponseSpec(data_container=WebhookAck, description="Accepted and ignored (unknown repository)"),
        400: problem_response(
            "Missing headers, bad signature or malformed payload (`webhook_headers_missing`, "
            "`webhook_signature_missing`, `webhook_signature_invalid`, `webhook_payload_invalid`); nothing "
            "was written; `webhook_payload_invalid` also when the body is not shaped like the announced "
            "`X-GitHub-Event`"
        ),
        503: problem_response(
            "GitHub could not be reached, or rate-limited us, while confirming a destructive "
            "event (`code_host_unavailable`, `code_host_rate_limited`); nothing was written, redeliver later"
        ),
    },
)
@inject
async def receive_github_webhook(
    request: Request[Any, Any, Any], ingest: FromDishka[IngestGitHubWebhook], metrics: FromDishka[Metrics]
) -> Response[WebhookAck]:
    """Verifies `X-Hub-Signature-256` over the raw body, deduplicates by `X-GitHub-Delivery`, records the
    event. `status` is `processed`, `duplicate`, `pong` or `ignored`; every verified delivery gets a 2xx."""
    body = await request.body()
    try:
        outcome = await ingest(
            WebhookDelivery(
                event=request.headers.get("x-github-event"),
                delivery_id=request.headers.get("x-github-delivery"),
                signature=request.headers.get("x-hub-signature-256"),
                body=body,
            )
        )
    except DomainError:
        metrics.webhook_delivered("github", "rejected")
        raise
    metrics.webhook_delivered("github", outcome.status)
    status = 202 if outcome.status == "ignored" else 200
    return Response(WebhookAck(outcome.status, outcome.detail), status_code=status)
