"""Stripe's webhook JSON -> typed payment events, read without the SDK (the in-memory gateway and the real
one share it). Stripe sends ids as strings or, when expanded, as objects with an ``id``; timestamps as epoch
seconds; anything may be missing or ``null``, and what cannot be read is ``None``."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from asynccoder.application.ports.billing import (
    ChargeRefunded,
    CheckoutCompleted,
    InvoiceSettled,
    PaymentEvent,
    PaymentEventData,
    SubscriptionChanged,
)
from asynccoder.domain.billing import SubscriptionStatus, subscription_status_from_stripe
from asynccoder.domain.errors import InvalidInput

WEBHOOK_TOLERANCE_SECONDS = 300


MAX_EVENT_ID_LENGTH = 255  # the ``stripe_events`` key
MAX_EVENT_TYPE_LENGTH = 100
MAX_OBJECT_ID_LENGTH = 150  # Stripe ids are far shorter; ours are built from them (``checkout:{id}``)
MAX_URL_LENGTH = 2_000
_LATEST_TIMESTAMP = 253_402_300_799  # 9999-12-31T23:59:59Z, the last second ``datetime`` can hold


def _invalid_event() -> InvalidInput:
    return InvalidInput("The event is not a Stripe event.", code="invalid_event")


def _text(raw: Any, limit: int) -> str | None:
    """A non-empty printable string of at most ``limit`` characters (no NUL, no control characters)."""
    if isinstance(raw, str) and raw and len(raw) <= limit and raw.isprintable():
        return raw
    return None


def parse_verified_event(payload: bytes) -> PaymentEvent:
    """Decode a verified event. An unusable ``id`` or ``type`` (not a short printable string), or a
    ``created`` that is not an epoch second ``datetime`` can hold (``1e20``), is ``invalid_event`` (400);
    a missing ``created`` is ``None``."""
    try:
        body = json.loads(payload)
        obj = body["data"]["object"]
    except (ValueError, KeyError, TypeError):
        raise _invalid_event() from None
    event_id = _text(body.get("id"), MAX_EVENT_ID_LENGTH)
    event_type = _text(body.get("type"), MAX_EVENT_TYPE_LENGTH)
    raw_created = body.get("created")
    if event_id is None or event_type is None:
        raise _invalid_event()
    if raw_created is None:
        created = None
    elif isinstance(raw_created, int) and not isinstance(raw_created, bool):
        if not 0 <= raw_created <= _LATEST_TIMESTAMP:
            raise _invalid_event()
        created = datetime.fromtimestamp(raw_created, UTC)
    else:
        raise _invalid_event()
    return PaymentEvent(
        id=event_id,
        type=event_type,
        created=created,
        data=_decode(event_type, obj if isinstance(obj, dict) else {}),
    )


def _uuid(raw: Any) -> UUID | None:
    try:
        return UUID(str(raw))
    except (ValueError, TypeError):
        return None


def _ts(raw: Any) -> datetime | None:
    if isinstance(raw, int) and not isinstance(raw, bool) and 0 <= raw <= _LATEST_TIMESTAMP:
        return datetime.fromtimestamp(raw, UTC)
    return None


def _str(raw: Any) -> str | None:
    """An object id, given as a string or, when expanded, as an object with an ``id``; ids that no Stripe
    object could have (too long, control characters) are unreadable."""
    if isinstance(raw, dict):
        raw = raw.get("id")
    return _text(raw, MAX_OBJECT_ID_LENGTH)


def _int(raw: Any) -> int | None:
    return raw if isinstance(raw, int) and not isinstance(raw, bool) else None


def _dict(raw: Any) -> dict[str, Any]:
    return raw if isinstance(raw, dict) else {}


def _currency(raw: Any) -> str:
    return raw.lower() if isinstance(raw, str) and len(raw) == 3 and raw.isalpha() else "usd"


def _first_item(obj: dict[str, Any], container: str) -> dict[str, Any]:
    data = _dict(obj.get(container)).get("data")
    return _dict(data[0]) if isinstance(data, list) and data else {}


def _checkout(obj: dict[str, Any]) -> CheckoutCompleted:
    metadata = _dict(obj.get("metadata"))
    return CheckoutCompleted(
        session_id=_str(obj.get("id")),
        customer_id=_str(obj.get("customer")),
        payment_intent_id=_str(obj.get("payment_intent")),
        paid_payment=obj.get("mode") == "payment" and obj.get("payment_status") == "paid",
        user_id=_uuid(metadata.get("user_id")),
        package_id=_uuid(metadata.get("package_id")),
    )


def subscription_from_object(obj: dict[str, Any], *, deleted: bool = False) -> SubscriptionChanged:
    """A Stripe subscription object (from an event or ``GET /v1/subscriptions/{id}``)."""
    item = _first_item(obj, "items")
    metadata = _dict(obj.get("metadata"))
    return SubscriptionChanged(
        subscription_id=_str(obj.get("id")),
        deleted=deleted,
        status=SubscriptionStatus.CANCELED
        if deleted
        else subscription_status_from_stripe(str(obj.get("status"))),
        customer_id=_str(obj.get("customer")),
        price_id=_str(_dict(item.get("price")).get("id")),
        current_period_start=_ts(obj.get("current_period_start")) or _ts(item.get("current_period_start")),
        current_period_end=_ts(obj.get("current_period_end")) or _ts(item.get("current_period_end")),
        cancel_at_period_end=bool(obj.get("cancel_at_period_end")),
        user_id=_uuid(metadata.get("user_id")),
        plan_id=_uuid(metadata.get("plan_id")),
    )


def _lines(obj: dict[str, Any]) -> list[dict[str, Any]]:
    data = _dict(obj.get("lines")).get("data")
    return [_dict(line) for line in data] if isinstance(data, list) else []


def _is_proration(line: dict[str, Any]) -> bool:
    # Before API 2025-03-31 the flag is on the line; since then under parent.*_details.
    parent = _dict(line.get("parent"))
    details = _dict(parent.get("subscription_item_details")) or _dict(parent.get("invoice_item_details"))
    return bool(line.get("proration")) or bool(details.get("proration"))


def _invoice(obj: dict[str, Any], paid: bool) -> InvoiceSettled:
    details = _dict(_dict(obj.get("parent")).get("subscription_details")) or _dict(
        obj.get("subscription_details")
    )
    metadata = _dict(details.get("metadata"))
    lines = _lines(obj)
    line = next((li for li in lines if not _is_proration(li)), lines[0] if lines else {})
    price = _dict(line.get("price")).get("id") or _dict(
        _dict(_dict(line.get("pricing")).get("price_details"))
    ).get("price")
    period = _dict(line.get("period"))
    return InvoiceSettled(
        paid=paid,
        invoice_id=_str(obj.get("id")),
        subscription_id=_str(obj.get("subscription")) or _str(details.get("subscription")),
        customer_id=_str(obj.get("customer")),
        amount_paid_cents=max(_int(obj.get("amount_paid")) or 0, 0),
        currency=_currency(obj.get("currency")),
        hosted_invoice_url=_text(obj.get("hosted_invoice_url"), MAX_URL_LENGTH),
        price_id=_str(price),
        period_start=_ts(period.get("start")),
        period_end=_ts(period.get("end")),
        user_id=_uuid(metadata.get("user_id")),
        plan_id=_uuid(metadata.get("plan_id")),
        billing_reason=_text(obj.get("billing_reason"), 50),
    )


def _refund(obj: dict[str, Any]) -> ChargeRefunded:
    return ChargeRefunded(
        charge_id=_str(obj.get("id")),
        payment_intent_id=_str(obj.get("payment_intent")),
        amount_cents=_int(obj.get("amount")),
        amount_refunded_cents=_int(obj.get("amount_refunded")),
    )


def _decode(event_type: str, obj: dict[str, Any]) -> PaymentEventData | None:
    match event_type:
        case "checkout.session.completed" | "checkout.session.async_payment_succeeded":
            return _checkout(obj)
        case "customer.subscription.created" | "customer.subscription.updated":
            return subscription_from_object(obj)
        case "customer.subscription.deleted":
            return subscription_from_object(obj, deleted=True)
        case "invoice.paid":
            return _invoice(obj, paid=True)
        case "invoice.payment_failed":
            return _invoice(obj, paid=False)
        case "charge.refunded":
            return _refund(obj)
    return None
