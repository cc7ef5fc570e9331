"""Paying: Checkout sessions, the Customer Portal, the caller's subscription and invoices."""

from __future__ import annotations

import re
from dataclasses import dataclass
from uuid import UUID

from asynccoder.application.billing.catalogue import entitlements_in
from asynccoder.application.ports.billing import (
    CheckoutRequest,
    LineItem,
    PaymentGateway,
    ProviderInvoice,
)
from asynccoder.application.ports.system import (
    Clock,
    IdGenerator,
)
from asynccoder.application.ports.uow import UnitOfWork
from asynccoder.domain.billing import (
    SEED_PLANS,
    Entitlements,
    Subscription,
    SubscriptionPlan,
    SubscriptionUsage,
    validate_idempotency_key,
)
from asynccoder.domain.errors import Conflict, FieldProblem, InvalidInput, NotFound
from asynccoder.domain.identity import Actor

_STRIPE_ID = re.compile(r"^in_[A-Za-z0-9]{1,250}$")


async def _customer_for(uow: UnitOfWork, gateway: PaymentGateway, clock: Clock, actor: Actor) -> str:
    """The caller's Stripe customer id, created on first need (idempotent: key ``customer:{user_id}``)."""
    async with uow:
        user = await uow.users.get(actor.user_id)
        if user is None:
            raise NotFound("No such user.")
        customer_id = await uow.subscriptions.get_customer_id(actor.user_id)
    if customer_id is not None:
        return customer_id
    # The provider call happens outside any database transaction.
    created = await gateway.create_customer(
        user_id=actor.user_id, email=user.email, idempotency_key=f"customer:{actor.user_id}"
    )
    async with uow:
        stored = await uow.subscriptions.link_customer(actor.user_id, created, clock.now())
        await uow.commit()
    return stored


@dataclass(frozen=True, slots=True)
class StartCheckoutInput:
    actor: Actor
    package_id: UUID | None = None
    plan_id: UUID | None = None
    idempotency_key: str | None = None


@dataclass(frozen=True, slots=True)
class CheckoutStarted:
    session_id: str
    url: str


class StartCheckout:
    """Open a Stripe Checkout session for a credit package (one payment) or a plan (a subscription).

    Rules: exactly one of ``package_id``/``plan_id``; only active offers (else ``NotFound``); the Free plan
    cannot be bought (``Refused``-like ``InvalidInput``); no credits move here — they are granted only by the
    verified webhook. The Stripe idempotency key is derived from the caller's ``Idempotency-Key`` (same key
    and body -> the same session; same key, different body -> ``Conflict``) or from a new id.
    """

    def __init__(
        self, uow: UnitOfWork, gateway: PaymentGateway, clock: Clock, ids: IdGenerator, public_base_url: str
    ) -> None:
        self._uow, self._gateway, self._clock, self._ids = uow, gateway, clock, ids
        self._base = public_base_url.rstrip("/")

    async def __call__(self, data: StartCheckoutInput) -> CheckoutStarted:
        if (data.package_id is None) == (data.plan_id is None):
            raise InvalidInput("Give exactly one of package_id and plan_id.", code="validation_failed")
        async with self._uow as uow:
            if data.package_id is not None:
                package = await uow.billing_catalogue.get_package(data.package_id)
                if package is None or not package.active:
                    raise NotFound("No such package.")
                item = LineItem(
                    name=f"{package.name} ({package.credits} credits)",
                    unit_amount_cents=package.price_cents,
                    stripe_price_id=package.stripe_price_id,
                )
                mode = "payment"
                metadata = {"user_id": str(data.actor.user_id), "package_id": str(package.id)}
            else:
                assert data.plan_id is not None
                plan: SubscriptionPlan | None = await uow.billing_catalogue.get_plan(data.plan_id)
                if plan is None or not plan.active:
                    raise NotFound("No such plan.")
                if plan.price_cents <= 0:
                    raise InvalidInput("The free plan needs no checkout.", code="plan_not_purchasable")
                current = await uow.subscriptions.current_for_user(data.actor.user_id)
                if current is not None and current.entitles_at(self._clock.now()):
                    raise Conflict(
                        "You already have a subscription; change it in the billing portal.",
                        code="already_subscribed",
                    )
                item = LineItem(
                    name=f"{plan.name} plan",
                    unit_amount_cents=plan.price_cents,
                    stripe_price_id=plan.stripe_price_id,
                    recurring_monthly=True,
                )
                mode = "subscription"
                metadata = {"user_id": str(data.actor.user_id), "plan_id": str(plan.id)}
        customer_id = await _customer_for(self._uow, self._gateway, self._clock, data.actor)
        if data.idempotency_key is not None:
            key = f"checkout:{data.actor.user_id}:{validate_idempotency_key(data.idempotency_key)}"
        else:
            key = f"checkout:{self._ids.new_id()}"
        session = await self._gateway.create_checkout_session(
            CheckoutRequest(
                mode="payment" if mode == "payment" else "subscription",
                customer_id=customer_id,
                item=item,
                success_url=f"{self._base}/billing/success?session_id={{CHECKOUT_SESSION_ID}}",
                cancel_url=f"{self._base}/billing/cancelled",
                client_reference_id=str(data.actor.user_id),
                metadata=metadata,
                idempotency_key=key,
            )
        )
        return CheckoutStarted(session.id, session.url)


class OpenBillingPortal:
    """A Stripe Customer Portal link for the caller (manage payment methods, cancel the subscription)."""

    def __init__(
        self, uow: UnitOfWork, gateway: PaymentGateway, clock: Clock, ids: IdGenerator, public_base_url: str
    ) -> None:
        self._uow, self._gateway, self._clock, self._ids = uow, gateway, clock, ids
        self._base = public_base_url.rstrip("/")

    async def __call__(self, actor: Actor) -> str:
        customer_id = await _customer_for(self._uow, self._gateway, self._clock, actor)
        return await self._gateway.create_portal_session(
            customer_id=customer_id,
            return_url=f"{self._base}/billing",
            idempotency_key=f"portal:{self._ids.new_id()}",
        )


@dataclass(frozen=True, slots=True)
class SubscriptionView:
    subscription: Subscription | None
    plan: SubscriptionPlan
    entitlements: Entitlements
    usage: SubscriptionUsage | None


class GetSubscription:
    """The caller's current subscription (or none: the Free plan), its plan, entitlements and period usage."""

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(self, actor: Actor) -> SubscriptionView:
        async with self._uow as uow:
            entitlements = await entitlements_in(uow, self._clock, actor.user_id)
            subscription = await uow.subscriptions.current_for_user(actor.user_id)
            plan = await uow.billing_catalogue.get_plan(entitlements.plan_id)
            usage = None
            if subscription is not None and subscription.current_period_start is not None:
                usage = await uow.subscriptions.get_usage(subscription.id, subscription.current_period_start)
        if plan is None:
            plan = SEED_PLANS[0]
        return SubscriptionView(subscription, plan, entitlements, usage)


@dataclass(frozen=True, slots=True)
class InvoicesPage:
    items: list[ProviderInvoice]
    next_cursor: str | None


class ListInvoices:
    """The caller's invoices as Stripe has them, newest first; the cursor is the last invoice id."""

    def __init__(self, uow: UnitOfWork, gateway: PaymentGateway) -> None:
        self._uow, self._gateway = uow, gateway

    async def __call__(self, actor: Actor, limit: int = 20, cursor: str | None = None) -> InvoicesPage:
        async with self._uow as uow:
            customer_id = await uow.subscriptions.get_customer_id(actor.user_id)
        if customer_id is None:
            return InvoicesPage([], None)
        if cursor is not None and not _STRIPE_ID.match(cursor):
            raise InvalidInput(
                "The cursor is not valid.", problems=[FieldProblem("cursor", "must come from next_cursor")]
            )
        page = await self._gateway.list_invoices(
            customer_id=customer_id, limit=max(1, min(100, limit)), starting_after=cursor
        )
        return InvoicesPage(page.items, page.items[-1].id if page.has_more and page.items else None)
