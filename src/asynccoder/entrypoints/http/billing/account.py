"""The caller's billing over HTTP: offers, checkout, portal, subscription, invoices, ledger."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

import msgspec
from dishka.integrations.litestar import FromDishka, inject
from litestar import Controller, get, post
from litestar.params import JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK

from asynccoder.application.billing.catalogue import (
    ListPackages,
    ListPlans,
)
from asynccoder.application.billing.checkout import (
    GetSubscription,
    ListInvoices,
    OpenBillingPortal,
    StartCheckout,
    StartCheckoutInput,
)
from asynccoder.application.billing.credits import (
    ListTransactions,
    ListTransactionsInput,
)
from asynccoder.application.shared import DEFAULT_PAGE_SIZE
from asynccoder.domain.billing import (
    EntryKind,
)
from asynccoder.domain.errors import FieldProblem, InvalidInput
from asynccoder.domain.identity import Actor
from asynccoder.entrypoints.http.auth import PUBLIC
from asynccoder.entrypoints.http.billing.schemas import (
    IdempotencyKey,
    LedgerEntryBody,
    PackagesBody,
    PlanBody,
    PlansBody,
    entry_out,
    package_out,
    plan_out,
    rfc3339,
)
from asynccoder.entrypoints.http.common import (
    Cursor,
    Limit,
    parse_cursor,
    problem_responses,
    wire,
)


class TransactionsBody(msgspec.Struct):
    items: list[LedgerEntryBody]
    next_cursor: str | None


class CheckoutBody(msgspec.Struct):
    session_id: str
    url: str


class PortalBody(msgspec.Struct):
    url: str


class UsageBody(msgspec.Struct):
    period_start: str
    period_end: str | None
    credits_granted: int
    credits_used: int


class EntitlementsBody(msgspec.Struct):
    allowed_tiers: list[str]
    max_concurrent_tasks: int
    rate_limit_tier: str


class SubscriptionBody(msgspec.Struct):
    plan: PlanBody
    entitlements: EntitlementsBody
    id: UUID | None = None
    status: str | None = None
    current_period_start: str | None = None
    current_period_end: str | None = None
    cancel_at_period_end: bool = False
    usage: UsageBody | None = None


class InvoiceBody(msgspec.Struct):
    id: str
    status: str
    amount_due_cents: int
    amount_paid_cents: int
    currency: str
    created_at: str
    hosted_invoice_url: str | None
    number: str | None


class InvoicesBody(msgspec.Struct):
    items: list[InvoiceBody]
    next_cursor: str | None


class CheckoutRequestBody(msgspec.Struct, forbid_unknown_fields=True):
    package_id: UUID | None = None
    plan_id: UUID | None = None


class BillingController(Controller):
    path = "/billing"
    tags = ["billing"]

    @get("/plans", operation_id="list_plans", summary="Plans on offer", opt=PUBLIC)
    @inject
    async def list_plans(self, use_case: FromDishka[ListPlans]) -> PlansBody:
        """Active subscription plans, cheapest first (public)."""
        return PlansBody([plan_out(p) for p in await use_case()])

    @get("/packages", operation_id="list_packages", summary="Credit packages on offer", opt=PUBLIC)
    @inject
    async def list_packages(self, use_case: FromDishka[ListPackages]) -> PackagesBody:
        """Active credit packages, smallest first (public)."""
        return PackagesBody([package_out(p) for p in await use_case()])

    @post(
        "/checkout",
        operation_id="start_checkout",
        summary="Start a Stripe Checkout",
        status_code=HTTP_200_OK,
        responses=problem_responses(400, 401, 404, 409, 503),
    )
    @inject
    async def checkout(
        self,
        data: JSONBody[CheckoutRequestBody],
        actor: FromDishka[Actor],
        use_case: FromDishka[StartCheckout],
        idempotency_key: IdempotencyKey = None,
    ) -> CheckoutBody:
        """Give exactly one of ``package_id`` (one payment) or ``plan_id`` (a subscription); open the returned
        ``url``. Credits arrive only when Stripe confirms the payment (webhook). With an ``Idempotency-Key``
        header a repeat returns the same session; the same key with a different body -> 409."""
        started = await use_case(StartCheckoutInput(actor, data.package_id, data.plan_id, idempotency_key))
        return wire(CheckoutBody, started)

    @post(
        "/portal",
        operation_id="open_billing_portal",
        summary="Open the Stripe Customer Portal",
        status_code=HTTP_200_OK,
        responses=problem_responses(401, 503),
    )
    @inject
    async def portal(self, actor: FromDishka[Actor], use_case: FromDishka[OpenBillingPortal]) -> PortalBody:
        """A short-lived link where you manage payment methods and your subscription."""
        return PortalBody(await use_case(actor))

    @get(
        "/subscription",
        operation_id="get_subscription",
        summary="Your subscription",
        responses=problem_responses(401),
    )
    @inject
    async def subscription(
        self, actor: FromDishka[Actor], use_case: FromDishka[GetSubscription]
    ) -> SubscriptionBody:
        """Your current plan (Free without a subscription), its entitlements and this period's usage."""
        view = await use_case(actor)
        ent = view.entitlements
        body = SubscriptionBody(
            plan=plan_out(view.plan),
            entitlements=wire(
                EntitlementsBody,
                ent,
                allowed_tiers=[t.value for t in ent.allowed_tiers],
                rate_limit_tier=ent.rate_limit_tier.value,
            ),
        )
        if view.subscription is not None:
            s = view.subscription
            body.id = s.id
            body.status = s.status.value
            body.current_period_start = rfc3339(s.current_period_start) if s.current_period_start else None
            body.current_period_end = rfc3339(s.current_period_end) if s.current_period_end else None
            body.cancel_at_period_end = s.cancel_at_period_end
        if view.usage is not None:
            u = view.usage
            body.usage = wire(
                UsageBody,
                u,
                period_start=rfc3339(u.period_start),
                period_end=rfc3339(u.period_end) if u.period_end else None,
            )
        return body

    @get(
        "/invoices",
        operation_id="list_invoices",
        summary="Your invoices",
        responses=problem_responses(400, 401, 503),
    )
    @inject
    async def invoices(
        self,
        actor: FromDishka[Actor],
        use_case: FromDishka[ListInvoices],
        limit: Limit = DEFAULT_PAGE_SIZE,
        cursor: Cursor = None,
    ) -> InvoicesBody:
        """Your Stripe invoices, newest first."""
        page = await use_case(actor, limit, cursor)
        return InvoicesBody(
            [wire(InvoiceBody, i, created_at=rfc3339(i.created)) for i in page.items],
            page.next_cursor,
        )

    @get(
        "/transactions",
        operation_id="list_transactions",
        summary="Your credit ledger",
        responses=problem_responses(400, 401),
    )
    @inject
    async def transactions(
        self,
        actor: FromDishka[Actor],
        use_case: FromDishka[ListTransactions],
        limit: Limit = DEFAULT_PAGE_SIZE,
        cursor: Cursor = None,
        kind: Annotated[EntryKind | None, QueryParameter()] = None,
        created_after: Annotated[datetime | None, QueryParameter()] = None,
        created_before: Annotated[datetime | None, QueryParameter()] = None,
    ) -> TransactionsBody:
        """Your ledger entries, newest first; filter by ``kind`` and ``created_after``/``created_before``."""
        for name, moment in (("created_after", created_after), ("created_before", created_before)):
            if moment is not None and moment.tzinfo is None:
                raise InvalidInput(
                    "Timestamps need a time zone.",
                    problems=[FieldProblem(name, "must be RFC 3339 with offset")],
                )
        page = await use_case(
            ListTransactionsInput(actor, limit, kind, created_after, created_before, parse_cursor(cursor))
        )
        return TransactionsBody(
            [entry_out(e) for e in page.items], str(page.next_cursor) if page.next_cursor else None
        )
