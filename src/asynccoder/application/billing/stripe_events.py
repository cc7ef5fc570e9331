"""Applying verified Stripe webhook events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from asynccoder.application.billing.credits import GrantCreditsInput, grant_in
from asynccoder.application.ports.billing import (
    PaymentEvent,
    PaymentGateway,
)
from asynccoder.application.ports.system import (
    Clock,
    IdGenerator,
)
from asynccoder.application.ports.uow import UnitOfWork
from asynccoder.domain.billing import (
    EntryKind,
    InvoiceRecord,
    LedgerEntry,
    Subscription,
    SubscriptionPlan,
    SubscriptionStatus,
    subscription_status_from_stripe,
)
from asynccoder.domain.errors import Conflict


@dataclass(frozen=True, slots=True)
class HandleStripeEventInput:
    payload: bytes
    signature_header: str | None


@dataclass(frozen=True, slots=True)
class StripeEventHandled:
    event_id: str
    event_type: str
    duplicate: bool
    applied: bool


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


def _dict(raw: Any) -> dict[str, Any]:
    return raw if isinstance(raw, dict) else {}


def _first_item(obj: dict[str, Any], container: str) -> dict[str, Any]:
    data = _dict(obj.get(container)).get("data")
    return _dict(data[0]) if isinstance(data, list) and data else {}


class HandleStripeEvent:
    """Verify and apply one Stripe webhook delivery.

    Rules: the signature is checked over the raw body with a 300 s tolerance (``InvalidInput``
    ``invalid_signature`` -> 400, nothing written); the event id is recorded in the same transaction as its
    effect, so a duplicate (even concurrent) delivery changes nothing and a failure forgets both; unknown
    types
    are recorded and ignored. Effects: a paid ``checkout.session.completed`` for a package grants its credits
    (key ``checkout:{session}``) — the only way purchased credits arrive; ``invoice.paid`` grants the plan's
    monthly credits once per invoice; ``invoice.payment_failed`` marks the subscription past due;
    ``customer.subscription.*`` mirror the subscription, never letting an older event overwrite a newer state
    or revive a deleted subscription; ``charge.refunded`` takes the refunded share of the purchase back, as
    far as the balance allows (never below zero).
    """

    def __init__(self, uow: UnitOfWork, gateway: PaymentGateway, clock: Clock, ids: IdGenerator) -> None:
        self._uow, self._gateway, self._clock, self._ids = uow, gateway, clock, ids

    async def __call__(self, data: HandleStripeEventInput) -> StripeEventHandled:
        event = self._gateway.parse_event(data.payload, data.signature_header)
        handler = _HANDLERS.get(event.type)
        async with self._uow as uow:
            if not await uow.stripe_events.add(event.id, event.type, event.created, self._clock.now()):
                return StripeEventHandled(event.id, event.type, duplicate=True, applied=False)
            applied = False
            if handler is not None:
                applied = await handler(self, uow, event)
            await uow.commit()
        return StripeEventHandled(event.id, event.type, duplicate=False, applied=applied)

    async def _user_for(self, uow: UnitOfWork, obj: dict[str, Any], metadata: dict[str, Any]) -> UUID | None:
        user_id = _uuid(metadata.get("user_id"))
        if user_id is not None and await uow.users.get(user_id) is not None:
            return user_id
        customer = _str(obj.get("customer"))
        return await uow.subscriptions.get_user_by_customer(customer) if customer else None

    # --- checkout ---------------------------------------------------------------------------------------

    async def _checkout_completed(self, uow: UnitOfWork, event: PaymentEvent) -> bool:
        obj = event.data
        metadata = _dict(obj.get("metadata"))
        user_id = await self._user_for(uow, obj, metadata)
        if user_id is None:
            return False
        customer = _str(obj.get("customer"))
        if customer:
            await uow.subscriptions.link_customer(user_id, customer, self._clock.now())
        if obj.get("mode") != "payment" or obj.get("payment_status") != "paid":
            return customer is not None
        package_id = _uuid(metadata.get("package_id"))
        package = await uow.billing_catalogue.get_package(package_id) if package_id else None
        session_id = _str(obj.get("id"))
        if package is None or session_id is None:
            return False
        try:
            await grant_in(
                uow,
                self._clock,
                self._ids,
                GrantCreditsInput(
                    user_id=user_id,
                    amount=package.credits,
                    idempotency_key=f"checkout:{session_id}",
                    kind=EntryKind.PURCHASE,
                    reason=f"Credit package {package.code}",
                    reference=_str(obj.get("payment_intent")) or session_id,
                ),
            )
        except Conflict:  # the session was granted before, under other terms: never twice
            return False
        return True

    # --- subscriptions ----------------------------------------------------------------------------------

    async def _plan_for(
        self, uow: UnitOfWork, metadata: dict[str, Any], price_id: str | None
    ) -> SubscriptionPlan | None:
        plan_id = _uuid(metadata.get("plan_id"))
        plan = await uow.billing_catalogue.get_plan(plan_id) if plan_id else None
        if plan is None and price_id:
            plan = await uow.billing_catalogue.get_plan_by_price(price_id)
        return plan

    async def _subscription_changed(self, uow: UnitOfWork, event: PaymentEvent) -> bool:
        obj = event.data
        stripe_id = _str(obj.get("id"))
        if stripe_id is None:
            return False
        deleted = event.type == "customer.subscription.deleted"
        status = (
            SubscriptionStatus.CANCELED
            if deleted
            else subscription_status_from_stripe(str(obj.get("status")))
        )
        existing = await uow.subscriptions.get_by_stripe_id(stripe_id)
        item = _first_item(obj, "items")
        metadata = _dict(obj.get("metadata"))
        now = self._clock.now()
        if existing is None:
            user_id = await self._user_for(uow, obj, metadata)
            plan = await self._plan_for(uow, metadata, _str(_dict(item.get("price")).get("id")))
            if user_id is None or plan is None:
                return False
            plan_id = plan.id
        else:
            user_id, plan_id = existing.user_id, existing.plan_id
            plan = await self._plan_for(uow, metadata, _str(_dict(item.get("price")).get("id")))
            if plan is not None:
                plan_id = plan.id
        subscription = Subscription(
            id=existing.id if existing else self._ids.new_id(),
            user_id=user_id,
            plan_id=plan_id,
            stripe_subscription_id=stripe_id,
            status=status,
            current_period_start=_ts(obj.get("current_period_start"))
            or _ts(item.get("current_period_start")),
            current_period_end=_ts(obj.get("current_period_end")) or _ts(item.get("current_period_end")),
            cancel_at_period_end=bool(obj.get("cancel_at_period_end")),
            last_event_at=event.created,
            created_at=existing.created_at if existing else now,
            updated_at=now,
        )
        if existing is None and await uow.subscriptions.insert_if_absent(subscription):
            return True
        return await uow.subscriptions.apply_if_newer(subscription)

    # --- invoices ---------------------------------------------------------------------------------------

    def _invoice_subscription(self, obj: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
        details = _dict(_dict(obj.get("parent")).get("subscription_details")) or _dict(
            obj.get("subscription_details")
        )
        stripe_sub = _str(obj.get("subscription")) or _str(details.get("subscription"))
        return stripe_sub, _dict(details.get("metadata"))

    async def _record_invoice(
        self, uow: UnitOfWork, event: PaymentEvent, status: str
    ) -> tuple[UUID | None, str | None, str | None, dict[str, Any]]:
        obj = event.data
        invoice_id = _str(obj.get("id"))
        stripe_sub, metadata = self._invoice_subscription(obj)
        existing = await uow.subscriptions.get_by_stripe_id(stripe_sub) if stripe_sub else None
        user_id = existing.user_id if existing else await self._user_for(uow, obj, metadata)
        if user_id is None or invoice_id is None:
            return None, None, stripe_sub, metadata
        amount = obj.get("amount_paid")
        await uow.subscriptions.record_invoice(
            InvoiceRecord(
                id=self._ids.new_id(),
                user_id=user_id,
                stripe_invoice_id=invoice_id,
                status=status,
                amount_paid_cents=amount if isinstance(amount, int) else 0,
                currency=str(obj.get("currency") or "usd"),
                created_at=self._clock.now(),
                stripe_subscription_id=stripe_sub,
                hosted_invoice_url=_str(obj.get("hosted_invoice_url")),
            )
        )
        return user_id, invoice_id, stripe_sub, metadata

    async def _invoice_paid(self, uow: UnitOfWork, event: PaymentEvent) -> bool:
        user_id, invoice_id, stripe_sub, metadata = await self._record_invoice(uow, event, "paid")
        if user_id is None or invoice_id is None or stripe_sub is None:
            return False
        subscription = await uow.subscriptions.get_by_stripe_id(stripe_sub)
        line = _first_item(event.data, "lines")
        price = _dict(line.get("price")).get("id") or _dict(
            _dict(_dict(line.get("pricing")).get("price_details"))
        ).get("price")
        plan = await uow.billing_catalogue.get_plan(subscription.plan_id) if subscription else None
        if plan is None:
            plan = await self._plan_for(uow, metadata, _str(price))
        if plan is None:
            return False
        granted_now = False
        if plan.monthly_credits > 0:
            try:
                granted = await grant_in(
                    uow,
                    self._clock,
                    self._ids,
                    GrantCreditsInput(
                        user_id=user_id,
                        amount=plan.monthly_credits,
                        idempotency_key=f"invoice:{invoice_id}",
                        kind=EntryKind.GRANT,
                        reason=f"Monthly allowance of the {plan.name} plan",
                        reference=invoice_id,
                    ),
                )
            except Conflict:  # this invoice was granted before: never twice
                return False
            granted_now = not granted.replayed
        if subscription is not None:
            await uow.subscriptions.set_status_if_newer(
                stripe_sub, SubscriptionStatus.ACTIVE, event.created, self._clock.now()
            )
            period = _dict(line.get("period"))
            start = _ts(period.get("start")) or subscription.current_period_start
            if start is not None and granted_now:
                await uow.subscriptions.add_usage(
                    subscription.id, start, _ts(period.get("end")), granted=plan.monthly_credits, used=0
                )
        return True

    async def _invoice_failed(self, uow: UnitOfWork, event: PaymentEvent) -> bool:
        user_id, _, stripe_sub, _ = await self._record_invoice(uow, event, "payment_failed")
        if user_id is None or stripe_sub is None:
            return False
        return await uow.subscriptions.set_status_if_newer(
            stripe_sub, SubscriptionStatus.PAST_DUE, event.created, self._clock.now()
        )

    # --- refunds ----------------------------------------------------------------------------------------

    async def _charge_refunded(self, uow: UnitOfWork, event: PaymentEvent) -> bool:
        obj = event.data
        charge_id = _str(obj.get("id"))
        payment_intent = _str(obj.get("payment_intent"))
        amount, refunded = obj.get("amount"), obj.get("amount_refunded")
        if not (charge_id and payment_intent and isinstance(amount, int) and isinstance(refunded, int)):
            return False
        if amount <= 0 or refunded <= 0:
            return False
        purchase = await uow.credits.find_purchase_by_reference(payment_intent)
        if purchase is None:
            return False
        user_id = purchase.user_id
        reference = f"charge:{charge_id}"
        target = purchase.available_delta * min(refunded, amount) // amount
        already = -sum(
            e.available_delta for e in await uow.credits.entries_with_reference(user_id, reference)
        )
        account = await uow.credits.get_account(user_id)
        take = min(target - already, account.available)
        if take <= 0:
            return False
        await uow.credits.post(
            LedgerEntry(
                id=self._ids.new_id(),
                user_id=user_id,
                kind=EntryKind.REFUND,
                available_delta=-take,
                held_delta=0,
                idempotency_key=f"charge_refund:{charge_id}:{refunded}",
                created_at=self._clock.now(),
                reference=reference,
                reason=f"Payment refunded: {take} of {target - already} credits could be taken back",
            )
        )
        return True


_HANDLERS = {
    "checkout.session.completed": HandleStripeEvent._checkout_completed,
    "checkout.session.async_payment_succeeded": HandleStripeEvent._checkout_completed,
    "customer.subscription.created": HandleStripeEvent._subscription_changed,
    "customer.subscription.updated": HandleStripeEvent._subscription_changed,
    "customer.subscription.deleted": HandleStripeEvent._subscription_changed,
    "invoice.paid": HandleStripeEvent._invoice_paid,
    "invoice.payment_failed": HandleStripeEvent._invoice_failed,
    "charge.refunded": HandleStripeEvent._charge_refunded,
}
