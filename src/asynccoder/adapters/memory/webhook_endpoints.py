"""In-memory webhook endpoints and outbox."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from asynccoder.adapters.memory.store import InMemoryStore
from asynccoder.application.ports.outbound_webhooks import (
    WebhookEndpointRepository,
    WebhookOutboxRepository,
)
from asynccoder.domain.webhook_endpoints import (
    DeliveryAttempt,
    DeliveryStatus,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)


@dataclass
class WebhookEndpointsState:
    endpoints: dict[UUID, WebhookEndpoint] = field(default_factory=dict)
    events: dict[UUID, WebhookEvent] = field(default_factory=dict)
    deliveries: dict[UUID, WebhookDelivery] = field(default_factory=dict)


def webhook_state(store: InMemoryStore) -> WebhookEndpointsState:
    state = store.state.extra.get("webhook_endpoints")
    if state is None:
        state = store.state.extra["webhook_endpoints"] = WebhookEndpointsState()
    assert isinstance(state, WebhookEndpointsState)
    return state


class InMemoryWebhookEndpointRepository(WebhookEndpointRepository):
    def __init__(self, store: InMemoryStore) -> None:
        self._store = store

    @property
    def _s(self) -> WebhookEndpointsState:
        return webhook_state(self._store)

    async def add(self, endpoint: WebhookEndpoint) -> None:
        if endpoint.id in self._s.endpoints:
            raise ValueError("duplicate webhook endpoint id")
        self._s.endpoints[endpoint.id] = endpoint

    async def get(self, endpoint_id: UUID, *, user_id: UUID | None = None) -> WebhookEndpoint | None:
        endpoint = self._s.endpoints.get(endpoint_id)
        if endpoint is None or (user_id is not None and endpoint.user_id != user_id):
            return None
        return endpoint

    async def list_for_user(self, user_id: UUID, *, limit: int, before: UUID | None) -> list[WebhookEndpoint]:
        mine = sorted(
            (
                e
                for e in self._s.endpoints.values()
                if e.user_id == user_id and (before is None or e.id < before)
            ),
            key=lambda e: e.id,
            reverse=True,
        )
        return mine[:limit]

    async def list_enabled(self, user_id: UUID) -> list[WebhookEndpoint]:
        return sorted(
            (e for e in self._s.endpoints.values() if e.user_id == user_id and e.enabled), key=lambda e: e.id
        )

    async def update(self, endpoint: WebhookEndpoint) -> None:
        current = self._s.endpoints.get(endpoint.id)
        if current is not None and current.user_id == endpoint.user_id:
            self._s.endpoints[endpoint.id] = endpoint

    async def delete(self, endpoint_id: UUID, *, user_id: UUID) -> bool:
        if await self.get(endpoint_id, user_id=user_id) is None:
            return False
        del self._s.endpoints[endpoint_id]
        for delivery_id in [d.id for d in self._s.deliveries.values() if d.endpoint_id == endpoint_id]:
            del self._s.deliveries[delivery_id]
        return True

    async def disable(self, endpoint_id: UUID, *, reason: str, at: datetime) -> bool:
        endpoint = self._s.endpoints.get(endpoint_id)
        if endpoint is None or not endpoint.enabled:
            return False
        self._s.endpoints[endpoint_id] = dataclasses.replace(
            endpoint, enabled=False, disabled_reason=reason, disabled_at=at, updated_at=at
        )
        return True


class InMemoryWebhookOutboxRepository(WebhookOutboxRepository):
    def __init__(self, store: InMemoryStore) -> None:
        self._store = store

    @property
    def _s(self) -> WebhookEndpointsState:
        return webhook_state(self._store)

    async def add_event(self, event: WebhookEvent) -> bool:
        if event.id in self._s.events:
            return False
        self._s.events[event.id] = event
        return True

    async def get_event(self, event_id: UUID) -> WebhookEvent | None:
        return self._s.events.get(event_id)

    async def add_delivery(self, delivery: WebhookDelivery) -> None:
        if delivery.id in self._s.deliveries:
            raise ValueError("duplicate delivery id")
        self._s.deliveries[delivery.id] = delivery

    async def get_delivery(self, delivery_id: UUID) -> WebhookDelivery | None:
        return self._s.deliveries.get(delivery_id)

    async def claim_due(
        self, worker_id: str, now: datetime, until: datetime, limit: int
    ) -> list[WebhookDelivery]:
        due = sorted(
            (
                d
                for d in self._s.deliveries.values()
                if d.status is DeliveryStatus.PENDING
                and d.next_attempt_at is not None
                and d.next_attempt_at <= now
                and (d.claimed_until is None or d.claimed_until < now)
                and (e := self._s.endpoints.get(d.endpoint_id)) is not None
                and e.enabled
            ),
            key=lambda d: (d.next_attempt_at, d.id),
        )[:limit]
        claimed = []
        for delivery in due:
            taken = dataclasses.replace(delivery, claimed_by=worker_id, claimed_until=until)
            self._s.deliveries[delivery.id] = taken
            claimed.append(taken)
        return claimed

    async def complete_attempt(
        self,
        delivery_id: UUID,
        worker_id: str,
        attempt: DeliveryAttempt,
        status: DeliveryStatus,
        next_attempt_at: datetime | None,
    ) -> bool:
        delivery = self._s.deliveries.get(delivery_id)
        if (
            delivery is None
            or delivery.claimed_by != worker_id
            or delivery.status is not DeliveryStatus.PENDING
        ):
            return False
        self._s.deliveries[delivery_id] = dataclasses.replace(
            delivery,
            attempts=(*delivery.attempts, attempt),
            status=status,
            next_attempt_at=next_attempt_at,
            claimed_by=None,
            claimed_until=None,
        )
        return True

    async def list_for_endpoint(
        self, endpoint_id: UUID, *, limit: int, before: UUID | None
    ) -> list[WebhookDelivery]:
        rows = sorted(
            (
                d
                for d in self._s.deliveries.values()
                if d.endpoint_id == endpoint_id and (before is None or d.id < before)
            ),
            key=lambda d: d.id,
            reverse=True,
        )
        return rows[:limit]
