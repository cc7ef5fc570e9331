"""SQLAlchemy webhook endpoints and outbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from asynccoder.adapters.sqlalchemy.dialect import insert_on_conflict
from asynccoder.adapters.sqlalchemy.webhook_endpoints_tables import (
    webhook_deliveries,
    webhook_endpoints,
    webhook_events,
)
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
    WebhookEventType,
)


def _to_endpoint(row: Any) -> WebhookEndpoint:
    return WebhookEndpoint(
        id=row.id,
        user_id=row.user_id,
        url=row.url,
        event_types=tuple(WebhookEventType(t) for t in row.event_types),
        enabled=row.enabled,
        sealed_secret=row.sealed_secret,
        created_at=row.created_at,
        updated_at=row.updated_at,
        description=row.description,
        credits_low_threshold=row.credits_low_threshold,
        sealed_previous_secret=row.sealed_previous_secret,
        previous_secret_expires_at=row.previous_secret_expires_at,
        disabled_reason=row.disabled_reason,
        disabled_at=row.disabled_at,
    )


def _endpoint_row(e: WebhookEndpoint) -> dict[str, Any]:
    return {
        "id": e.id,
        "user_id": e.user_id,
        "url": e.url,
        "event_types": [t.value for t in e.event_types],
        "enabled": e.enabled,
        "description": e.description,
        "credits_low_threshold": e.credits_low_threshold,
        "sealed_secret": e.sealed_secret,
        "sealed_previous_secret": e.sealed_previous_secret,
        "previous_secret_expires_at": e.previous_secret_expires_at,
        "disabled_reason": e.disabled_reason,
        "disabled_at": e.disabled_at,
        "created_at": e.created_at,
        "updated_at": e.updated_at,
    }


def _attempt_json(a: DeliveryAttempt) -> dict[str, Any]:
    return {
        "at": a.at.isoformat(),
        "status_code": a.status_code,
        "duration_ms": a.duration_ms,
        "error": a.error,
    }


def _to_attempt(raw: dict[str, Any]) -> DeliveryAttempt:
    return DeliveryAttempt(
        at=datetime.fromisoformat(raw["at"]),
        status_code=raw["status_code"],
        duration_ms=raw["duration_ms"],
        error=raw["error"],
    )


def _to_delivery(row: Any) -> WebhookDelivery:
    return WebhookDelivery(
        id=row.id,
        endpoint_id=row.endpoint_id,
        event_id=row.event_id,
        event_type=WebhookEventType(row.event_type),
        status=DeliveryStatus(row.status),
        next_attempt_at=row.next_attempt_at,
        created_at=row.created_at,
        attempts=tuple(_to_attempt(a) for a in row.attempts),
        claimed_by=row.claimed_by,
        claimed_until=row.claimed_until,
    )


class SqlAlchemyWebhookEndpointRepository(WebhookEndpointRepository):
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, endpoint: WebhookEndpoint) -> None:
        await self._conn.execute(webhook_endpoints.insert().values(_endpoint_row(endpoint)))

    async def get(self, endpoint_id: UUID, *, user_id: UUID | None = None) -> WebhookEndpoint | None:
        query = webhook_endpoints.select().where(webhook_endpoints.c.id == endpoint_id)
        if user_id is not None:
            query = query.where(webhook_endpoints.c.user_id == user_id)
        row = (await self._conn.execute(query)).first()
        return _to_endpoint(row) if row else None

    async def list_for_user(self, user_id: UUID, *, limit: int, before: UUID | None) -> list[WebhookEndpoint]:
        t = webhook_endpoints
        query = t.select().where(t.c.user_id == user_id).order_by(t.c.id.desc()).limit(limit)
        if before is not None:
            query = query.where(t.c.id < before)
        return [_to_endpoint(r) for r in await self._conn.execute(query)]

    async def list_enabled(self, user_id: UUID) -> list[WebhookEndpoint]:
        t = webhook_endpoints
        query = t.select().where(t.c.user_id == user_id, t.c.enabled.is_(True)).order_by(t.c.id)
        return [_to_endpoint(r) for r in await self._conn.execute(query)]

    async def update(self, endpoint: WebhookEndpoint) -> None:
        t = webhook_endpoints
        values = _endpoint_row(endpoint)
        del values["id"], values["user_id"], values["created_at"]
        await self._conn.execute(
            t.update().where(t.c.id == endpoint.id, t.c.user_id == endpoint.user_id).values(values)
        )

    async def delete(self, endpoint_id: UUID, *, user_id: UUID) -> bool:
        t = webhook_endpoints
        owned = (
            await self._conn.execute(sa.select(t.c.id).where(t.c.id == endpoint_id, t.c.user_id == user_id))
        ).first()
        if owned is None:
            return False
        # Explicitly, since SQLite enforces ON DELETE CASCADE only with foreign keys switched on.
        await self._conn.execute(
            webhook_deliveries.delete().where(webhook_deliveries.c.endpoint_id == endpoint_id)
        )
        await self._conn.execute(t.delete().where(t.c.id == endpoint_id))
        return True

    async def disable(self, endpoint_id: UUID, *, reason: str, at: datetime) -> bool:
        t = webhook_endpoints
        result = await self._conn.execute(
            t.update()
            .where(t.c.id == endpoint_id, t.c.enabled.is_(True))
            .values(enabled=False, disabled_reason=reason, disabled_at=at, updated_at=at)
        )
        return bool(result.rowcount == 1)


class SqlAlchemyWebhookOutboxRepository(WebhookOutboxRepository):
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add_event(self, event: WebhookEvent) -> bool:
        statement = (
            insert_on_conflict(self._conn, webhook_events)
            .values(
                id=event.id,
                user_id=event.user_id,
                type=event.type.value,
                body=event.body,
                created_at=event.created_at,
            )
            .on_conflict_do_nothing(index_elements=["id"])
            .returning(webhook_events.c.id)
        )
        return (await self._conn.execute(statement)).first() is not None

    async def get_event(self, event_id: UUID) -> WebhookEvent | None:
        row = (
            await self._conn.execute(webhook_events.select().where(webhook_events.c.id == event_id))
        ).first()
        if row is None:
            return None
        return WebhookEvent(
            id=row.id,
            user_id=row.user_id,
            type=WebhookEventType(row.type),
            created_at=row.created_at,
            body=row.body,
        )

    async def add_delivery(self, delivery: WebhookDelivery) -> None:
        await self._conn.execute(
            webhook_deliveries.insert().values(
                id=delivery.id,
                endpoint_id=delivery.endpoint_id,
                event_id=delivery.event_id,
                event_type=delivery.event_type.value,
                status=delivery.status.value,
                next_attempt_at=delivery.next_attempt_at,
                attempts=[_attempt_json(a) for a in delivery.attempts],
                claimed_by=delivery.claimed_by,
                claimed_until=delivery.claimed_until,
                created_at=delivery.created_at,
            )
        )

    async def get_delivery(self, delivery_id: UUID) -> WebhookDelivery | None:
        t = webhook_deliveries
        row = (await self._conn.execute(t.select().where(t.c.id == delivery_id))).first()
        return _to_delivery(row) if row else None

    def _claimable(self, now: datetime) -> list[sa.ColumnElement[bool]]:
        t = webhook_deliveries
        return [
            t.c.status == DeliveryStatus.PENDING.value,
            t.c.next_attempt_at <= now,
            sa.or_(t.c.claimed_until.is_(None), t.c.claimed_until < now),
        ]

    async def claim_due(
        self, worker_id: str, now: datetime, until: datetime, limit: int
    ) -> list[WebhookDelivery]:
        t, e = webhook_deliveries, webhook_endpoints
        query = (
            sa.select(t.c.id)
            .join(e, e.c.id == t.c.endpoint_id)
            .where(*self._claimable(now), e.c.enabled.is_(True))
            .order_by(t.c.next_attempt_at, t.c.id)
            .limit(limit)
            # PostgreSQL: concurrent workers pick different rows (SQLite renders no lock and has one writer);
            # the conditional update below is what makes a claim correct, not this lock.
            .with_for_update(skip_locked=True, of=t)
        )
        candidates = (await self._conn.execute(query)).scalars().all()
        claimed: list[WebhookDelivery] = []
        for delivery_id in candidates:
            # The condition is re-checked on the locked row: of two workers only one takes the lease.
            row = (
                await self._conn.execute(
                    t.update()
                    .where(t.c.id == delivery_id, *self._claimable(now))
                    .values(claimed_by=worker_id, claimed_until=until)
                    .returning(*t.c)
                )
            ).first()
            if row is not None:
                claimed.append(_to_delivery(row))
        return claimed

    async def complete_attempt(
        self,
        delivery_id: UUID,
        worker_id: str,
        attempt: DeliveryAttempt,
        status: DeliveryStatus,
        next_attempt_at: datetime | None,
    ) -> bool:
        t = webhook_deliveries
        held = (
            t.c.id == delivery_id,
            t.c.claimed_by == worker_id,
            t.c.status == DeliveryStatus.PENDING.value,
        )
        row = (await self._conn.execute(sa.select(t.c.attempts).where(*held))).first()
        if row is None:
            return False
        result = await self._conn.execute(
            t.update()
            .where(*held)
            .values(
                attempts=[*row.attempts, _attempt_json(attempt)],
                status=status.value,
                next_attempt_at=next_attempt_at,
                claimed_by=None,
                claimed_until=None,
            )
        )
        return bool(result.rowcount == 1)

    async def list_for_endpoint(
        self, endpoint_id: UUID, *, limit: int, before: UUID | None
    ) -> list[WebhookDelivery]:
        t = webhook_deliveries
        query = t.select().where(t.c.endpoint_id == endpoint_id).order_by(t.c.id.desc()).limit(limit)
        if before is not None:
            query = query.where(t.c.id < before)
        return [_to_delivery(r) for r in await self._conn.execute(query)]
