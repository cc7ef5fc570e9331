"""Applying verified Stripe webhook events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from asynccoder.application.billing.credits import GrantCreditsInput, grant_in
from asynccoder.application.outbound_webhooks.outbox import publish_subscription_changed
from asynccoder.application.ports.billing import (
    ChargeRefunded,
    CheckoutCompleted,
    InvoiceSettled,
    PaymentGateway,
    SubscriptionChanged,
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
        async with self._uow as uow:
            if not await uow.stripe_events.add(event.id, event.type, event.created, self._clock.now()):
                return StripeEventHandled(event.id, event.type, duplicate=True, applied=False)
            match event.data:
                case CheckoutCompleted() as checkout:
                    applied = await self._checkout_completed(uow, checkout)
                case SubscriptionChanged() as changed:
                    applied = await self._subscription_changed(uow, changed, event.created)
                    if applied and (
                        sub := await uow.subscriptions.get_by_stripe_id(changed.subscription_id or "")
                    ):
                        await publish_subscription_changed(  # the outbound webhook
                            uow, self._clock.now(), sub, source_event_id=event.id, source_at=event.created
                        )
                case InvoiceSettled(paid=True) as invoice:
                    applied = await self._invoice_paid(uow, invoice, event.created)
                case InvoiceSettled() as invoice:
                    applied = await self._invoice_failed(uow, invoice, event.created)
                case ChargeRefunded() as refund:
                    applied = await self._charge_refunded(uow, refund)
                case _:
                    applied = False
            await uow.commit()
        return StripeEventHandled(event.id, event.type, duplicate=False, applied=applied)

    async def _user_for(self, uow: UnitOfWork, user_id: UUID | None, customer: str | None) -> UUID | None:
        if user_id is not None and await uow.users.get(user_id) is not None:
            return user_id
        return await uow.subscriptions.get_user_by_customer(customer) if customer else None

    # --- checkout ---------------------------------------------------------------------------------------

    async def _checkout_completed(self, uow: UnitOfWork, checkout: CheckoutCompleted) -> bool:
        user_id = await self._user_for(uow, checkout.user_id, checkout.customer_id)
        if user_id is None:
            return False
        customer = checkout.customer_id
        if customer:
            await uow.subscriptions.link_customer(user_id, customer, self._clock.now())
        if not checkout.paid_payment:
            return customer is not None
        package_id = checkout.package_id
        package = await uow.billing_catalogue.get_package(package_id) if package_id else None
        session_id = checkout.session_id
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
                    reference=checkout.payment_intent_id or session_id,
                ),
            )
        except Conflict:  # the session was granted before, under other terms: never twice
            return False
        return True

    # --- subscriptions ----------------------------------------------------------------------------------

    async def _plan_for(
        self, uow: UnitOfWork, plan_id: UUID | None, price_id: str | None
    ) -> SubscriptionPlan | None:
        plan = await uow.billing_catalogue.get_plan(plan_id) if plan_id else None
        if plan is None and price_id:
            plan = await uow.billing_catalogue.get_plan_by_price(price_id)
        return plan

    async def _subscription_changed(
        self, uow: UnitOfWork, changed: SubscriptionChanged, event_created: datetime
    ) -> bool:
        stripe_id = changed.subscription_id
        if stripe_id is None:
            return False
        existing = await uow.subscriptions.get_by_stripe_id(stripe_id)
        now = self._clock.now()
        if existing is None:
            user_id = await self._user_for(uow, changed.user_id, changed.customer_id)
            plan = await self._plan_for(uow, changed.plan_id, changed.price_id)
            if user_id is None or plan is None:
                return False
            plan_id = plan.id
        else:
            user_id, plan_id = existing.user_id, existing.plan_id
            plan = await self._plan_for(uow, changed.plan_id, changed.price_id)
            if plan is not None:
                plan_id = plan.id
        subscription = Subscription(
            id=existing.id if existing else self._ids.new_id(),
            user_id=user_id,
            plan_id=plan_id,
            stripe_subscription_id=stripe_id,
            status=changed.status,
            current_period_start=changed.current_period_start,
            current_period_end=changed.current_period_end,
            cancel_at_period_end=changed.cancel_at_period_end,
            last_event_at=event_created,
            created_at=existing.created_at if existing else now,
            updated_at=now,
        )
        if existing is None and await uow.subscriptions.insert_if_absent(subscription):
            return True
        return await uow.subscriptions.apply_if_newer(subscription)

    # --- invoices ---------------------------------------------------------------------------------------

    async def _record_invoice(self, uow: UnitOfWork, invoice: InvoiceSettled) -> UUID | None:
        stripe_sub = invoice.subscription_id
        existing = await uow.subscriptions.get_by_stripe_id(stripe_sub) if stripe_sub else None
        user_id = (
            existing.user_id if existing else await self._user_for(uow, invoice.user_id, invoice.customer_id)
        )
        if user_id is None or invoice.invoice_id is None:
            return None
        await uow.subscriptions.record_invoice(
            InvoiceRecord(
                id=self._ids.new_id(),
                user_id=user_id,
                stripe_invoice_id=invoice.invoice_id,
                status="paid" if invoice.paid else "payment_failed",
                amount_paid_cents=invoice.amount_paid_cents,
                currency=invoice.currency,
                created_at=self._clock.now(),
                stripe_subscription_id=stripe_sub,
                hosted_invoice_url=invoice.hosted_invoice_url,
            )
        )
        return user_id

    async def _invoice_paid(self, uow: UnitOfWork, invoice: InvoiceSettled, event_created: datetime) -> bool:
        user_id = await self._record_invoice(uow, invoice)
        invoice_id, stripe_sub = invoice.invoice_id, invoice.subscription_id
        if user_id is None or invoice_id is None or stripe_sub is None:
            return False
        subscription = await uow.subscriptions.get_by_stripe_id(stripe_sub)
        plan = await uow.billing_catalogue.get_plan(subscription.plan_id) if subscription else None
        if plan is None:
            plan = await self._plan_for(uow, invoice.plan_id, invoice.price_id)
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
                stripe_sub, SubscriptionStatus.ACTIVE, event_created, self._clock.now()
            )
            start = invoice.period_start or subscription.current_period_start
            if start is not None and granted_now:
                await uow.subscriptions.add_usage(
                    subscription.id, start, invoice.period_end, granted=plan.monthly_credits, used=0
                )
        return True

    async def _invoice_failed(
        self, uow: UnitOfWork, invoice: InvoiceSettled, event_created: datetime
    ) -> bool:
        user_id = await self._record_invoice(uow, invoice)
        stripe_sub = invoice.subscription_id
        if user_id is None or stripe_sub is None:
            return False
        return await uow.subscriptions.set_status_if_newer(
            stripe_sub, SubscriptionStatus.PAST_DUE, event_created, self._clock.now()
        )

    # --- refunds ----------------------------------------------------------------------------------------

    async def _charge_refunded(self, uow: UnitOfWork, refund: ChargeRefunded) -> bool:
        charge_id, payment_intent = refund.charge_id, refund.payment_intent_id
        amount, refunded = refund.amount_cents, refund.amount_refunded_cents
        if not (charge_id and payment_intent and amount is not None and refunded is not None):
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
