"""Sending the outbox: claimed, signed, retried with backoff; the endpoint disabled after persistent failure.

Guarantees:
- a delivery is sent by one worker at a time: ``claim_due`` leases it (a conditional update) for
  ``WebhookPolicy.lease`` (60 s, far above the 10 s send timeout); only the lease holder records the attempt;
- a worker that dies mid-send loses its lease; once it expires any worker sends the delivery again with the
  same ``webhook-id`` (at-least-once, as Standard Webhooks specifies: receivers deduplicate on that id);
- each attempt is signed at send time (``webhook-timestamp`` is the send time) with the current secret and,
  during a rotation overlap, the previous one too;
- in production the host is resolved at send time, every address must be public, and the request goes to the
  checked address (TLS and ``Host`` still name the host), so a DNS answer that changes cannot redirect it;
- failures follow ``RETRY_SCHEDULE``; when the last attempt fails the delivery is ``failed`` and the endpoint
  is disabled with ``disabled_reason = "delivery_failures"``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from urllib.parse import urlsplit

from asynccoder.application.outbound_webhooks.endpoints import WebhookPolicy
from asynccoder.application.ports.outbound_webhooks import (
    HostResolver,
    WebhookRequest,
    WebhookResponse,
    WebhookSender,
)
from asynccoder.application.ports.system import Clock, SecretBox, SecretUnreadable
from asynccoder.application.ports.uow import UnitOfWork
from asynccoder.domain.webhook_endpoints import (
    DISABLED_BY_FAILURES,
    MAX_ERROR_LENGTH,
    DeliveryAttempt,
    DeliveryStatus,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
    next_attempt_after,
    refused_address,
    signature_header,
    webhook_endpoint_secret_context,
)

log = logging.getLogger("asynccoder.outbound_webhooks")

USER_AGENT = "AsyncCoder-Webhooks/1"


class DeliverWebhooks:
    """One pass: up to ``batch_size`` times, claim one due delivery for ``worker_id`` and send it."""

    def __init__(
        self,
        uow: UnitOfWork,
        clock: Clock,
        box: SecretBox,
        resolver: HostResolver,
        sender: WebhookSender,
        policy: WebhookPolicy,
    ) -> None:
        self._uow, self._clock, self._box = uow, clock, box
        self._resolver, self._sender, self._policy = resolver, sender, policy

    async def __call__(self, worker_id: str) -> int:
        """Returns how many deliveries were attempted."""
        attempted = 0
        while attempted < self._policy.batch_size:
            # One claim per send, just before it: a lease then always outlasts the send it covers (a batch
            # claimed at once could outlive its lease behind a slow receiver and be sent twice at once).
            now = self._clock.now()
            async with self._uow as uow:
                claimed = await uow.webhook_outbox.claim_due(worker_id, now, now + self._policy.lease, 1)
                delivery = claimed[0] if claimed else None
                endpoint = await uow.webhook_endpoints.get(delivery.endpoint_id) if delivery else None
                event = await uow.webhook_outbox.get_event(delivery.event_id) if delivery else None
                await uow.commit()
            if delivery is None:
                break
            attempted += 1
            if endpoint is not None and event is not None:  # else deleted (its deliveries go with it)
                await self._deliver(worker_id, delivery, endpoint, event)
        return attempted

    async def _deliver(
        self, worker_id: str, delivery: WebhookDelivery, endpoint: WebhookEndpoint, event: WebhookEvent
    ) -> None:
        response = await self._attempt(endpoint, event)
        now = self._clock.now()
        made = len(delivery.attempts) + 1
        ok = response.status_code is not None and 200 <= response.status_code < 300
        next_at = None if ok else next_attempt_after(made, now)
        status = (
            DeliveryStatus.SUCCEEDED if ok else DeliveryStatus.PENDING if next_at else DeliveryStatus.FAILED
        )
        attempt = DeliveryAttempt(
            at=now,
            status_code=response.status_code,
            duration_ms=response.duration_ms,
            error=response.error[:MAX_ERROR_LENGTH] if response.error else None,
        )
        async with self._uow as uow:
            won = await uow.webhook_outbox.complete_attempt(delivery.id, worker_id, attempt, status, next_at)
            disabled = False
            if won and status is DeliveryStatus.FAILED:
                disabled = await uow.webhook_endpoints.disable(
                    endpoint.id, reason=DISABLED_BY_FAILURES, at=now
                )
            await uow.commit()
        if disabled:
            log.warning(
                "webhook endpoint %s disabled after %d failed attempts of delivery %s",
                endpoint.id,
                made,
                delivery.id,
            )

    def _secrets(self, endpoint: WebhookEndpoint) -> list[str]:
        context = webhook_endpoint_secret_context(endpoint.id, endpoint.user_id)
        found = [self._box.decrypt(endpoint.sealed_secret, context=context)]
        expires = endpoint.previous_secret_expires_at
        if endpoint.sealed_previous_secret and expires is not None and self._clock.now() < expires:
            found.append(self._box.decrypt(endpoint.sealed_previous_secret, context=context))
        return found

    async def _attempt(self, endpoint: WebhookEndpoint, event: WebhookEvent) -> WebhookResponse:
        parts = urlsplit(endpoint.url)
        host = parts.hostname or ""
        try:
            addresses = await self._resolver.resolve(
                host, parts.port or (443 if parts.scheme == "https" else 80)
            )
        except OSError:
            addresses = []
        if not addresses:
            return WebhookResponse(None, 0, "the host did not resolve")
        if self._policy.production and refused_address(addresses) is not None:
            return WebhookResponse(None, 0, "refused: the host resolves to a non-public address")
        try:
            secrets_ = self._secrets(endpoint)
        except SecretUnreadable:
            return WebhookResponse(None, 0, "the signing secret cannot be read; rotate it")
        timestamp = int(self._clock.now().timestamp())
        msg_id = str(event.id)
        headers = {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            "webhook-id": msg_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signature_header(secrets_, msg_id, timestamp, event.body),
        }
        request = WebhookRequest(
            url=endpoint.url,
            address=addresses[0],
            headers=headers,
            body=event.body.encode(),
            timeout_seconds=self._policy.timeout_seconds,
        )
        return await self._sender.send(request)


DeliveryScope = Callable[[], AbstractAsyncContextManager[DeliverWebhooks]]


class WebhookDeliveryLoop:
    """Runs ``lanes`` concurrent delivery passes (each in its own scope, so its own unit of work) until
    ``stop()``; a lane that found nothing waits ``poll_interval`` seconds."""

    def __init__(
        self, scope: DeliveryScope, worker_id: str, *, lanes: int = 2, poll_interval: float = 1.0
    ) -> None:
        self._scope, self.worker_id = scope, worker_id
        self._lanes, self._poll = lanes, poll_interval
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        self._stopping.set()

    async def run_once(self) -> int:
        async with self._scope() as deliver:
            return await deliver(self.worker_id)

    async def run(self) -> None:
        await asyncio.gather(*(self._lane() for _ in range(self._lanes)))

    async def _lane(self) -> None:
        while not self._stopping.is_set():
            try:
                sent = await self.run_once()
            except Exception:  # the loop outlives a database hiccup; the next pass tries again
                log.exception("webhook delivery pass failed")
                sent = 0
            if not sent:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), self._poll)
