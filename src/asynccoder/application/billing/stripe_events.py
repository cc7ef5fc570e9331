"""Applying verified Stripe webhook events."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from asynccoder.application.billing.credits import GrantCreditsInput, grant_in
from asynccoder.application.outbound_webhooks.outbox import publish_subscription_changed
from asynccoder.application.ports.billing import (
    ChargeRefunded,
    CheckoutCompleted,
    InvoiceSettled,
    PaymentEvent,
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
from asynccoder.domain.errors import Conflict, InvalidInput


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


# Only these invoices pay for a new period of the plan; ``subscription_update`` (a proration after a plan
# or quantity change) and ``manual``/``subscription_threshold`` ones do not.
GRANTING_BILLING_REASONS = frozenset({"subscription_create", "subscription_cycle"})
# An event "created" later than this after we received it is not a Stripe event (Stripe's clock is not ours,
# but not a day apart); accepting it would freeze the subscription's ordering for that long.
MAX_CLOCK_SKEW = timedelta(days=1)


class HandleStripeEvent:
    """Verify and apply one Stripe webhook delivery.

    Rules: the signature is checked over the raw body with a 300 s tolerance (``InvalidInput``
    ``invalid_signature`` -> 400, nothing written); a signed event whose id or type is unusable, or whose
    ``created`` is not a time (``1e20``) or more than a day ahead, is ``invalid_event`` (400); a missing
    ``created`` falls back to the receipt time. The event id is recorded in the same transaction as its
    effect, so a duplicate (even concurrent) delivery changes nothing and a failure forgets both; unknown
    types are recorded and ignored.

    Effects: a paid ``checkout.session.completed`` for a package grants its credits (key
    ``checkout:{session}``) — the only way purchased credits arrive. On ``customer.subscription.*`` and
    invoice events the subscription is re-read from the provider (Stripe's advice: events arrive in any order
    and ``created`` has one-second resolution), outside the transaction, and that state is stored, stamped
    with the time it was read; only when the provider does not know it does the event's own object count
    (then ``created`` orders, and a ``customer.subscription.created`` never overwrites a stored state). The
    subscription's price decides its plan, the ``plan_id`` metadata is the fallback; ``canceled`` is final.
    ``invoice.paid`` grants the plan's monthly credits once per (subscription, period) — only for
    ``subscription_create``/``subscription_cycle`` invoices that took money (a $0 trial invoice grants
    nothing: the allowance comes with the first paid invoice), never for a canceled subscription — and
    writes that period's usage row, creating the subscription from the invoice when it arrives first;
    ``invoice.payment_failed`` marks the subscription past due. ``charge.refunded`` takes back the refunded
    share of the purchase: the share claimed so far is kept per charge and each event takes only the
    increase, as far as the balance allows (never below zero, never a 402).
    """

    def __init__(self, uow: UnitOfWork, gateway: PaymentGateway, clock: Clock, ids: IdGenerator) -> None:
        self._uow, self._gateway, self._clock, self._ids = uow, gateway, clock, ids

    async def __call__(self, data: HandleStripeEventInput) -> StripeEventHandled:
        event = self._gateway.parse_event(data.payload, data.signature_header)
        received = self._clock.now()
        created = event.created or received
        if created > received + MAX_CLOCK_SKEW:
            raise InvalidInput("The event is not a Stripe event.", code="invalid_event")
        current = await self._current_subscription(event)
        # The provider's answer is at least as new as the moment it was asked for.
        state_at = received if current is not None else created
        async with self._uow as uow:
            if not await uow.stripe_events.add(event.id, event.type, created, received):
                return StripeEventHandled(event.id, event.type, duplicate=True, applied=False)
            match event.data:
                case CheckoutCompleted() as checkout:
                    applied = await self._checkout_completed(uow, checkout)
                case SubscriptionChanged() as changed:
                    applied = await self._subscription_changed(
                        uow,
                        current or changed,
                        state_at,
                        from_provider=current is not None,
                        creation=event.type == "customer.subscription.created",
                    )
                    if applied and (
                        sub := await uow.subscriptions.get_by_stripe_id(changed.subscription_id or "")
                    ):
                        await publish_subscription_changed(  # the outbound webhook
                            uow, self._clock.now(), sub, source_event_id=event.id, source_at=state_at
                        )
                case InvoiceSettled(paid=True) as invoice:
                    applied = await self._invoice_paid(uow, invoice, current, state_at)
                case InvoiceSettled() as invoice:
                    applied = await self._invoice_failed(uow, invoice, current, state_at)
                case ChargeRefunded() as refund:
                    applied = await self._charge_refunded(uow, refund)
                case _:
                    applied = False
            await uow.commit()
        return StripeEventHandled(event.id, event.type, duplicate=False, applied=applied)

    async def _current_subscription(self, event: PaymentEvent) -> SubscriptionChanged | None:
        match event.data:
            case SubscriptionChanged(subscription_id=str() as stripe_id):
                pass
            case InvoiceSettled(subscription_id=str() as stripe_id):
                pass
            case _:
                return None
        return await self._gateway.retrieve_subscription(stripe_id)

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
        """The plan of ``price_id`` (a plan switch in the Customer Portal changes only the price), else the
        plan named in the metadata we set at checkout."""
        plan = await uow.billing_catalogue.get_plan_by_price(price_id) if price_id else None
        if plan is None and plan_id:
            plan = await uow.billing_catalogue.get_plan(plan_id)
        return plan

    async def _subscription_changed(
        self,
        uow: UnitOfWork,
        changed: SubscriptionChanged,
        state_at: datetime,
        *,
        from_provider: bool,
        creation: bool = False,
    ) -> bool:
        stripe_id = changed.subscription_id
        if stripe_id is None:
            return False
        existing = await uow.subscriptions.get_by_stripe_id(stripe_id)
        if existing is not None and creation and not from_provider:
            # Whatever was stored came from an event at least as new as the creation.
            return False
        now = self._clock.now()
        plan = await self._plan_for(uow, changed.plan_id, changed.price_id)
        if existing is None:
            user_id = await self._user_for(uow, changed.user_id, changed.customer_id)
            if user_id is None or plan is None:
                return False
        else:
            user_id = existing.user_id
        plan_id = plan.id if plan is not None else existing.plan_id if existing else None
        assert plan_id is not None
        subscription = Subscription(
            id=existing.id if existing else self._ids.new_id(),
            user_id=user_id,
            plan_id=plan_id,
            stripe_subscription_id=stripe_id,
            status=changed.status,
            current_period_start=changed.current_period_start,
            current_period_end=changed.current_period_end,
            cancel_at_period_end=changed.cancel_at_period_end,
            last_event_at=state_at,
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

    async def _sync_from_invoice(
        self,
        uow: UnitOfWork,
        invoice: InvoiceSettled,
        current: SubscriptionChanged | None,
        state_at: datetime,
    ) -> Subscription | None:
        """The invoice's subscription after storing the provider's state of it; when the provider does not
        know it and it is not stored yet (the invoice came first), the active subscription a paid invoice
        describes (a $0 one describes nothing: its subscription event will)."""
        stripe_sub = invoice.subscription_id
        assert stripe_sub is not None
        if current is not None:
            await self._subscription_changed(uow, current, state_at, from_provider=True)
        elif (
            invoice.paid
            and invoice.amount_paid_cents > 0
            and await uow.subscriptions.get_by_stripe_id(stripe_sub) is None
        ):
            described = SubscriptionChanged(
                subscription_id=stripe_sub,
                deleted=False,
                status=SubscriptionStatus.ACTIVE,
                customer_id=invoice.customer_id,
                price_id=invoice.price_id,
                current_period_start=invoice.period_start,
                current_period_end=invoice.period_end,
                cancel_at_period_end=False,
                user_id=invoice.user_id,
                plan_id=invoice.plan_id,
            )
            await self._subscription_changed(uow, described, state_at, from_provider=False)
        return await uow.subscriptions.get_by_stripe_id(stripe_sub)

    async def _invoice_paid(
        self,
        uow: UnitOfWork,
        invoice: InvoiceSettled,
        current: SubscriptionChanged | None,
        state_at: datetime,
    ) -> bool:
        user_id = await self._record_invoice(uow, invoice)
        invoice_id, stripe_sub = invoice.invoice_id, invoice.subscription_id
        if user_id is None or invoice_id is None or stripe_sub is None:
            return False
        subscription = await self._sync_from_invoice(uow, invoice, current, state_at)
        if subscription is None:
            return False
        # Money taken makes it active; a $0 (trial) invoice leaves the state as it is.
        took_money = invoice.amount_paid_cents > 0
        if (
            current is None
            and took_money
            and await uow.subscriptions.set_status_if_newer(
                stripe_sub, SubscriptionStatus.ACTIVE, state_at, self._clock.now()
            )
        ):
            subscription = dataclasses.replace(subscription, status=SubscriptionStatus.ACTIVE)
        plan = await uow.billing_catalogue.get_plan(subscription.plan_id)
        if (
            plan is None
            or plan.monthly_credits <= 0
            or invoice.billing_reason not in GRANTING_BILLING_REASONS
            or not took_money
            or not subscription.status.entitles
        ):
            return False
        start = invoice.period_start or subscription.current_period_start
        end = invoice.period_end if invoice.period_start else subscription.current_period_end
        # One grant per period of the subscription, whichever invoices pay for it.
        key = f"period:{stripe_sub}:{int(start.timestamp())}" if start else f"invoice:{invoice_id}"
        try:
            granted = await grant_in(
                uow,
                self._clock,
                self._ids,
                GrantCreditsInput(
                    user_id=user_id,
                    amount=plan.monthly_credits,
                    idempotency_key=key,
                    kind=EntryKind.GRANT,
                    reason=f"Monthly allowance of the {plan.name} plan",
                    reference=invoice_id,
                ),
            )
        except Conflict:  # this period was granted before, under another plan: never twice
            return False
        if granted.replayed:
            return False
        if start is not None:
            await uow.subscriptions.add_usage(
                subscription.id, start, end, granted=plan.monthly_credits, used=0
            )
        return True

    async def _invoice_failed(
        self,
        uow: UnitOfWork,
        invoice: InvoiceSettled,
        current: SubscriptionChanged | None,
        state_at: datetime,
    ) -> bool:
        user_id = await self._record_invoice(uow, invoice)
        stripe_sub = invoice.subscription_id
        if user_id is None or stripe_sub is None:
            return False
        if current is not None:
            return await self._subscription_changed(uow, current, state_at, from_provider=True)
        return await uow.subscriptions.set_status_if_newer(
            stripe_sub, SubscriptionStatus.PAST_DUE, state_at, self._clock.now()
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
        refunded = min(refunded, amount)
        target = purchase.available_delta * refunded // amount
        now = self._clock.now()
        claim = await uow.credits.claim_charge_refund(
            charge_id, purchase.user_id, refunded_cents=refunded, credits=target, now=now
        )
        if claim <= 0:
            return False
        taken = await uow.credits.take_back(
            LedgerEntry(
                id=self._ids.new_id(),
                user_id=purchase.user_id,
                kind=EntryKind.REFUND,
                available_delta=-claim,
                held_delta=0,
                idempotency_key=f"charge_refund:{charge_id}:{target}",
                created_at=now,
                reference=f"charge:{charge_id}",
                reason=f"Payment refunded ({refunded} of {amount} cents): up to {claim} credits taken back",
            )
        )
        return taken is not None
