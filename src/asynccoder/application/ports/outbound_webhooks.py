"""Ports of outbound webhooks (feature ``webhook_endpoints``): the endpoints users register, the outbox of
events and their deliveries, DNS resolution and the HTTP sender.

Named "outbound" to keep it apart from the inbound GitHub and Stripe webhooks (``code_hosting``, ``billing``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID

from asynccoder.domain.webhook_endpoints import (
    DeliveryAttempt,
    DeliveryStatus,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)


class WebhookEndpointRepository(Protocol):
    """A user's webhook endpoints; reads and writes are scoped to the owner (another user's id: not found)."""

    async def add(self, endpoint: WebhookEndpoint) -> None: ...

    async def get(self, endpoint_id: UUID, *, user_id: UUID | None = None) -> WebhookEndpoint | None:
        """The endpoint (only if it is ``user_id``'s when given)."""
        ...

    async def list_for_user(self, user_id: UUID, *, limit: int, before: UUID | None) -> list[WebhookEndpoint]:
        """Newest first, ids below ``before``."""
        ...

    async def list_enabled(self, user_id: UUID) -> list[WebhookEndpoint]: ...

    async def update(self, endpoint: WebhookEndpoint) -> None:
        """Replace the stored endpoint of the same id and owner."""
        ...

    async def delete(self, endpoint_id: UUID, *, user_id: UUID) -> bool:
        """Delete the endpoint and its deliveries; ``False`` when it is not the user's."""
        ...

    async def disable(self, endpoint_id: UUID, *, reason: str, at: datetime) -> bool:
        """Disable an enabled endpoint (a conditional update); ``False`` when it was already disabled."""
        ...


class WebhookOutboxRepository(Protocol):
    """The outbox: events written in the transaction of the change they describe, one delivery per endpoint.

    Sending is claimed: ``claim_due`` takes due deliveries with a conditional update (a lease until
    ``claimed_until``), so two workers never send one delivery at once; a crashed worker's lease runs out
    and another worker sends the delivery again (same event id: receivers deduplicate on ``webhook-id``).
    """

    async def add_event(self, event: WebhookEvent) -> bool:
        """Store the event; ``False`` (and nothing stored) when an event with its id exists."""
        ...

    async def get_event(self, event_id: UUID) -> WebhookEvent | None: ...

    async def add_delivery(self, delivery: WebhookDelivery) -> None: ...

    async def get_delivery(self, delivery_id: UUID) -> WebhookDelivery | None: ...

    async def claim_due(
        self, worker_id: str, now: datetime, until: datetime, limit: int
    ) -> list[WebhookDelivery]:
        """Pending deliveries of enabled endpoints due at ``now`` whose lease is free or expired, now leased
        to ``worker_id`` until ``until``; oldest due first."""
        ...

    async def complete_attempt(
        self,
        delivery_id: UUID,
        worker_id: str,
        attempt: DeliveryAttempt,
        status: DeliveryStatus,
        next_attempt_at: datetime | None,
    ) -> bool:
        """Append the attempt, set the status and release the lease, only while ``worker_id`` holds it."""
        ...

    async def list_for_endpoint(
        self, endpoint_id: UUID, *, limit: int, before: UUID | None
    ) -> list[WebhookDelivery]:
        """Newest first, ids below ``before``."""
        ...


class HostResolver(Protocol):
    """The IP addresses ``host`` resolves to now (an IP literal resolves to itself); ``OSError`` when none."""

    async def resolve(self, host: str, port: int) -> list[str]: ...


@dataclass(frozen=True, slots=True)
class WebhookRequest:
    """One POST: ``address`` is the checked IP to connect to (TLS and ``Host`` still use the URL's host)."""

    url: str
    address: str
    headers: dict[str, str]
    body: bytes
    timeout_seconds: float


@dataclass(frozen=True, slots=True)
class WebhookResponse:
    """``status_code`` is ``None`` when no response came (``error`` says why, without secrets)."""

    status_code: int | None
    duration_ms: int
    error: str | None = None


class WebhookSender(Protocol):
    """POSTs a signed delivery and reports what happened; never raises for network errors or timeouts."""

    async def send(self, request: WebhookRequest) -> WebhookResponse: ...
