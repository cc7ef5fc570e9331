"""Billing test helpers: the seeded catalogue, Stripe-shaped events and their signatures."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any
from uuid import UUID

from asynccoder.adapters.stripe.memory_gateway import sign_payload
from asynccoder.application.billing.credits import GrantCredits, GrantCreditsInput
from asynccoder.application.ports.uow import UnitOfWork
from asynccoder.domain.billing import SEED_PACKAGES, SEED_PLANS

WEBHOOK_SECRET = "whsec_test_0123456789abcdef"
STARTER = SEED_PACKAGES[0]
FREE, PRO, ENTERPRISE = SEED_PLANS


async def seed_catalogue(new_uow: Callable[[], UnitOfWork]) -> None:
    """Put the migration's catalogue back (the test databases are emptied between tests)."""
    async with new_uow() as uow:
        for plan in SEED_PLANS:
            await uow.billing_catalogue.save_plan(plan)
        for package in SEED_PACKAGES:
            await uow.billing_catalogue.save_package(package)
        await uow.commit()


def event(event_id: str, type_: str, obj: dict[str, Any], *, created: int | None = None) -> bytes:
    """A Stripe event body as Stripe sends it."""
    return json.dumps(
        {
            "id": event_id,
            "object": "event",
            "api_version": "2026-10-28.endive",
            "created": created if created is not None else int(time.time()),
            "livemode": False,
            "pending_webhooks": 1,
            "type": type_,
            "data": {"object": obj},
        }
    ).encode()


def signature(payload: bytes, *, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    return sign_payload(payload, secret, timestamp if timestamp is not None else int(time.time()))


def checkout_completed(
    session_id: str, user_id: str, package_id: str, *, paid: bool = True, payment_intent: str = "pi_1"
) -> dict[str, Any]:
    return {
        "id": session_id,
        "object": "checkout.session",
        "mode": "payment",
        "payment_status": "paid" if paid else "unpaid",
        "status": "complete",
        "customer": f"cus_{user_id[-12:]}",
        "client_reference_id": user_id,
        "payment_intent": payment_intent,
        "metadata": {"user_id": user_id, "package_id": package_id},
        "amount_total": 500,
        "currency": "usd",
    }


PERIOD = 30 * 86400
PERIOD_START = 1_790_000_000


def subscription_object(
    sub_id: str,
    user_id: str,
    plan_id: str,
    status: str,
    *,
    start: int = PERIOD_START,
    cancel: bool = False,
    price: str = "price_pro",
) -> dict[str, Any]:
    """A subscription as Stripe's API (2025-03-31 and later) shows it: the periods are on the items."""
    return {
        "id": sub_id,
        "object": "subscription",
        "customer": f"cus_{user_id[-12:]}",
        "status": status,
        "cancel_at_period_end": cancel,
        "metadata": {"user_id": user_id, "plan_id": plan_id},
        "items": {
            "object": "list",
            "data": [
                {
                    "id": "si_1",
                    "object": "subscription_item",
                    "price": {"id": price, "object": "price", "recurring": {"interval": "month"}},
                    "quantity": 1,
                    "current_period_start": start,
                    "current_period_end": start + PERIOD,
                }
            ],
            "has_more": False,
        },
        "livemode": False,
    }


def invoice_line(
    sub_id: str,
    *,
    start: int = PERIOD_START,
    end: int | None = None,
    amount: int = 2000,
    proration: bool = False,
) -> dict[str, Any]:
    """An invoice line item (API 2025-03-31+: the subscription item and proration flag under ``parent``)."""
    return {
        "id": f"il_{sub_id}_{start}_{int(proration)}",
        "object": "line_item",
        "amount": amount,
        "currency": "usd",
        "period": {"start": start, "end": end if end is not None else start + PERIOD},
        "parent": {
            "type": "subscription_item_details",
            "subscription_item_details": {
                "subscription": sub_id,
                "subscription_item": "si_1",
                "proration": proration,
            },
        },
        "pricing": {"type": "price_details", "price_details": {"price": "price_pro", "product": "prod_1"}},
    }


def invoice_object(
    invoice_id: str,
    sub_id: str,
    user_id: str,
    plan_id: str,
    *,
    amount: int = 2000,
    start: int = PERIOD_START,
    billing_reason: str = "subscription_cycle",
    lines: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "id": invoice_id,
        "object": "invoice",
        "customer": f"cus_{user_id[-12:]}",
        "amount_paid": amount,
        "amount_due": amount,
        "currency": "usd",
        "status": "paid",
        "billing_reason": billing_reason,
        "parent": {
            "type": "subscription_details",
            "subscription_details": {
                "subscription": sub_id,
                "metadata": {"user_id": user_id, "plan_id": plan_id},
            },
        },
        "lines": {
            "object": "list",
            "data": lines if lines is not None else [invoice_line(sub_id, start=start, amount=amount)],
            "has_more": False,
        },
    }


def charge_refunded(charge_id: str, payment_intent: str, amount: int, refunded: int) -> dict[str, Any]:
    return {
        "id": charge_id,
        "object": "charge",
        "payment_intent": payment_intent,
        "amount": amount,
        "amount_refunded": refunded,
        "refunded": refunded >= amount,
        "currency": "usd",
    }


async def grant_in_app(app: Any, user_id: UUID, credits: int) -> None:
    """Grant credits through the running app's own container (as an admin grant would)."""
    async with app.state.dishka_container() as request_container:
        grant = await request_container.get(GrantCredits)
        await grant(GrantCreditsInput(user_id, credits, f"test-grant:{user_id}:{credits}"))
