"""Stripe's webhook JSON, read without the SDK (the in-memory gateway and the real one share it)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from asynccoder.application.billing.ports import PaymentEvent
from asynccoder.domain.errors import InvalidInput

WEBHOOK_TOLERANCE_SECONDS = 300


def parse_verified_event(payload: bytes) -> PaymentEvent:
    try:
        body = json.loads(payload)
        obj = body["data"]["object"]
        return PaymentEvent(
            id=str(body["id"]),
            type=str(body["type"]),
            created=datetime.fromtimestamp(int(body["created"]), UTC),
            data=obj if isinstance(obj, dict) else {},
        )
    except (ValueError, KeyError, TypeError):
        raise InvalidInput("The event is not a Stripe event.", code="invalid_event") from None
