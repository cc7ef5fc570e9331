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


def parse_verified_event(payload: bytes) -> PaymentEvent:
    try:
        body = json.loads(payload)
        obj = body["data"]["object"]
        event_type = str(body["type"])
        return PaymentEvent(
            id=str(body["id"]),
            type=event_type,
            created=datetime.fromtimestamp(int(body["created"]), UTC),
            data=_decode(event_type, obj if isinstance(obj, dict) else {}),
        )
    except (ValueError, KeyError, TypeError):
        raise InvalidInput("The event is not a Stripe event.", code="invalid_event") from None


def _uuid(raw: Any) -> UUID | None:
    try:
        return UUID(str(raw))
    except (ValueError, TypeError):
        return None


def _ts(raw: Any) -> datetime | None:
    if isinstance(raw, int) and not isinstance(raw, bool):
        return datetime.fromtimestamp(raw, UTC)
    return None


def _str(raw: Any) -> str | None:
    if isinstance(raw, str) and raw:
        return raw
    if isinstance(raw, dict) and isinstance(raw.get("id"), str):
        return str(raw["id"])  # an expanded object
    return None


def _int(raw: Any) -> int | None:
    return raw if isinstance(raw, int) else None


def _dict(raw: Any) -> dict[str, Any]:
    return raw if isinstance(raw, dict) else {}


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


def _subscription(obj: dict[str, Any], deleted: bool) -> SubscriptionChanged:
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


def _invoice(obj: dict[str, Any], paid: bool) -> InvoiceSettled:
    details = _dict(_dict(obj.get("parent")).get("subscription_details")) or _dict(
        obj.get("subscription_details")
    )
    metadata = _dict(details.get("metadata"))
    line = _first_item(obj, "lines")
    price = _dict(line.get("price")).get("id") or _dict(
        _dict(_dict(line.get("pricing")).get("price_details"))
    ).get("price")
    period = _dict(line.get("period"))
    return InvoiceSettled(
        paid=paid,
        invoice_id=_str(obj.get("id")),
        subscription_id=_str(obj.get("subscription")) or _str(details.get("subscription")),
        customer_id=_str(obj.get("customer")),
        amount_paid_cents=_int(obj.get("amount_paid")) or 0,
        currency=str(obj.get("currency") or "usd"),
        hosted_invoice_url=_str(obj.get("hosted_invoice_url")),
        price_id=_str(price),
        period_start=_ts(period.get("start")),
        period_end=_ts(period.get("end")),
        user_id=_uuid(metadata.get("user_id")),
        plan_id=_uuid(metadata.get("plan_id")),
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
            return _subscription(obj, deleted=False)
        case "customer.subscription.deleted":
            return _subscription(obj, deleted=True)
        case "invoice.paid":
            return _invoice(obj, paid=True)
        case "invoice.payment_failed":
            return _invoice(obj, paid=False)
        case "charge.refunded":
            return _refund(obj)
    return None
