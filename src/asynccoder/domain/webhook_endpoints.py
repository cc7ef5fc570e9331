"""Outbound webhooks: endpoints users register, the events we tell them about, and how a delivery is signed
and retried (Standard Webhooks, https://www.standardwebhooks.com/).

- An endpoint has a URL, the event types it wants (none listed: all of them), ``enabled``, a signing secret
  ``whsec_<base64 of 32 random bytes>`` and optionally the previous secret, which keeps signing until
  ``previous_secret_expires_at`` (the overlap after a rotation): then ``webhook-signature`` carries both
  signatures, space-separated.
- ``credits_low_threshold`` (credits, per endpoint) makes the endpoint receive ``credits.low`` when the user's
  balance falls from at or above it to below it; without a threshold the endpoint never gets ``credits.low``.
- A delivery is tried on the ``RETRY_SCHEDULE`` (immediately, then after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h
  and 10 h: eight attempts over about 27 hours). When the last attempt fails the delivery is ``failed`` and
  the endpoint is disabled with ``disabled_reason = "delivery_failures"`` (re-enable it with ``PUT``).
- The same URL rule as custom model endpoints (``model_endpoints.validate_model_base_url``): in production
  https only and public hosts only; at send time the resolved addresses must be public too (DNS rebinding).
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import ipaddress
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from asynccoder.domain.errors import FieldProblem, InvalidInput
from asynccoder.domain.model_endpoints import validate_model_base_url

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
ROTATION_OVERLAP = timedelta(hours=24)
MAX_EVENT_TYPES = 20
MAX_DESCRIPTION = 200
# Delay before each attempt: the first is immediate. After the last one fails the delivery is given up.
RETRY_SCHEDULE: tuple[timedelta, ...] = (
    timedelta(0),
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
)
MAX_ATTEMPTS = len(RETRY_SCHEDULE)
DISABLED_BY_FAILURES = "delivery_failures"
MAX_ERROR_LENGTH = 500


class WebhookEventType(enum.StrEnum):
    TASK_QUEUED = "task.queued"
    TASK_STARTED = "task.started"
    TASK_SUCCEEDED = "task.succeeded"
    TASK_FAILED = "task.failed"
    TASK_CANCELLED = "task.cancelled"
    PULL_REQUEST_OPENED = "pull_request.opened"
    REVIEW_POSTED = "review.posted"
    CREDITS_LOW = "credits.low"
    BUDGET_EXCEEDED = "budget.exceeded"
    API_KEY_INVALID = "api_key.invalid"
    SUBSCRIPTION_CHANGED = "subscription.changed"


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class WebhookEndpoint:
    """``sealed_secret`` / ``sealed_previous_secret`` are ``SecretBox`` ciphertexts bound to this row."""

    id: UUID
    user_id: UUID
    url: str
    event_types: tuple[WebhookEventType, ...]  # empty: every type
    enabled: bool
    sealed_secret: str = field(repr=False)
    created_at: datetime
    updated_at: datetime
    description: str = ""
    credits_low_threshold: int | None = None
    sealed_previous_secret: str | None = field(default=None, repr=False)
    previous_secret_expires_at: datetime | None = None
    disabled_reason: str | None = None
    disabled_at: datetime | None = None

    def wants(self, type: WebhookEventType) -> bool:
        if type is WebhookEventType.CREDITS_LOW and self.credits_low_threshold is None:
            return False
        return not self.event_types or type in self.event_types


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    """One fact to tell a user about; ``body`` is the exact JSON sent (the same bytes on every attempt)."""

    id: UUID
    user_id: UUID
    type: WebhookEventType
    created_at: datetime
    body: str


@dataclass(frozen=True, slots=True)
class DeliveryAttempt:
    at: datetime
    status_code: int | None
    duration_ms: int
    error: str | None = None


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    """One event to one endpoint. ``claimed_by``/``claimed_until``: the worker sending it now (a lease)."""

    id: UUID
    endpoint_id: UUID
    event_id: UUID
    event_type: WebhookEventType
    status: DeliveryStatus
    next_attempt_at: datetime | None
    created_at: datetime
    attempts: tuple[DeliveryAttempt, ...] = ()
    claimed_by: str | None = None
    claimed_until: datetime | None = None


def webhook_endpoint_secret_context(endpoint_id: UUID, user_id: UUID) -> str:
    """Associated data binding an endpoint's sealed signing secrets (current and previous) to its row."""
    return f"webhook_endpoints:{endpoint_id}:{user_id}"


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def sign(secret: str, msg_id: str, timestamp: int, body: str) -> str:
    """``v1,<base64 HMAC-SHA256 of "id.timestamp.body">`` keyed with the base64-decoded secret."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    digest = hmac.new(key, f"{msg_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_header(secrets_: Sequence[str], msg_id: str, timestamp: int, body: str) -> str:
    return " ".join(sign(s, msg_id, timestamp, body) for s in secrets_)


def next_attempt_after(attempts_made: int, now: datetime) -> datetime | None:
    """When to try again after ``attempts_made`` failed attempts; ``None``: give up."""
    if attempts_made >= MAX_ATTEMPTS:
        return None
    return now + RETRY_SCHEDULE[attempts_made]


def event_id(at: datetime, natural_key: str) -> UUID:
    """A UUIDv7 for the fact named by ``natural_key`` (e.g. ``task:<id>:status:<seq>``) at ``at``.

    The time part orders events by creation; the rest comes from a hash of the key, so recording the same
    fact twice gives the same id and the outbox keeps it once.
    """
    millis = int(at.timestamp() * 1000) & ((1 << 48) - 1)
    digest = int.from_bytes(hashlib.sha256(natural_key.encode()).digest()[:10], "big")
    rand_a = (digest >> 68) & 0xFFF
    rand_b = digest & ((1 << 62) - 1)
    value = (millis << 80) | (0x7 << 76) | (rand_a << 64) | (0b10 << 62) | rand_b
    return UUID(int=value)


def validate_url(url: str, *, production: bool) -> str:
    """The model-endpoint URL rule (see the module docstring), under the field name ``url``."""
    try:
        return validate_model_base_url(url, production=production, field="url")
    except InvalidInput as exc:
        raise InvalidInput(exc.message, problems=exc.problems, code="invalid_webhook_url") from None


def refused_address(addresses: Iterable[str]) -> str | None:
    """The first address a production delivery must not reach (not globally routable), else ``None``."""
    for raw in addresses:
        try:
            address = ipaddress.ip_address(raw.split("%", 1)[0])
        except ValueError:
            return raw
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if not address.is_global or address.is_multicast:
            return raw
    return None


def validate_event_types(types: Iterable[str]) -> tuple[WebhookEventType, ...]:
    seen: list[WebhookEventType] = []
    for raw in types:
        try:
            value = WebhookEventType(raw)
        except ValueError:
            known = ", ".join(t.value for t in WebhookEventType)
            message = f"unknown event type {raw[:60]!r}; known: {known}"
            raise InvalidInput(
                "An event type is not known.", problems=[FieldProblem("event_types", message)]
            ) from None
        if value not in seen:
            seen.append(value)
    if len(seen) > MAX_EVENT_TYPES:
        raise InvalidInput(
            "Too many event types.", problems=[FieldProblem("event_types", "at most 20 types")]
        )
    return tuple(seen)


def event_body(
    event_id_: UUID, type: WebhookEventType, created_at: datetime, obj: dict[str, Any]
) -> dict[str, Any]:
    """The JSON document of an event: ``{"id", "type", "created", "object"}``."""
    return {
        "id": str(event_id_),
        "type": type.value,
        "created": created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "object": obj,
    }
