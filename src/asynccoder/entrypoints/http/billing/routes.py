"""Billing over HTTP: credits, plans, packages, checkout, subscription, invoices, ledger, admin, webhook."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec
from dishka.integrations.litestar import FromDishka, inject
from litestar import Controller, Request, Response, get, patch, post
from litestar.params import HeaderParameter, JSONBody, PathParameter, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from asynccoder.application.billing.catalogue import (
    CreatePackage,
    CreatePlan,
    ListPackages,
    ListPlans,
    PackageDraft,
    PlanDraft,
    UpdatePackage,
    UpdatePlan,
)
from asynccoder.application.billing.checkout import (
    GetSubscription,
    ListInvoices,
    OpenBillingPortal,
    StartCheckout,
    StartCheckoutInput,
)
from asynccoder.application.billing.credits import (
    AdjustCredits,
    AdjustCreditsInput,
    GetCredits,
    ListTransactions,
    ListTransactionsInput,
)
from asynccoder.application.billing.stripe_events import HandleStripeEvent, HandleStripeEventInput
from asynccoder.domain.ai import ModelTier
from asynccoder.domain.billing import (
    CreditPackage,
    EntryKind,
    LedgerEntry,
    RateLimitTier,
    SubscriptionPlan,
)
from asynccoder.domain.errors import FieldProblem, InvalidInput
from asynccoder.domain.identity import Actor
from asynccoder.entrypoints.http.auth import PUBLIC, require_admin
from asynccoder.entrypoints.http.common import (
    parse_cursor,
    problem_responses,
)


def _rfc3339(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


# --- response bodies ---------------------------------------------------------------------------------


class LedgerEntryBody(msgspec.Struct):
    id: UUID
    kind: str
    amount_credits: int
    available_delta_credits: int
    held_delta_credits: int
    created_at: str
    hold_id: UUID | None
    reference: str | None
    reason: str | None


def _entry(e: LedgerEntry) -> LedgerEntryBody:
    return LedgerEntryBody(
        id=e.id,
        kind=e.kind.value,
        amount_credits=e.amount,
        available_delta_credits=e.available_delta,
        held_delta_credits=e.held_delta,
        created_at=_rfc3339(e.created_at),
        hold_id=e.hold_id,
        reference=e.reference,
        reason=e.reason,
    )


class CreditsBody(msgspec.Struct):
    available_credits: int
    held_credits: int
    recent_entries: list[LedgerEntryBody]


class TransactionsBody(msgspec.Struct):
    items: list[LedgerEntryBody]
    next_cursor: str | None


class PlanBody(msgspec.Struct):
    id: UUID
    code: str
    name: str
    monthly_credits: int
    price_cents: int
    max_concurrent_tasks: int
    allowed_tiers: list[str]
    rate_limit_tier: str
    active: bool
    stripe_price_id: str | None


def _plan(p: SubscriptionPlan) -> PlanBody:
    return PlanBody(
        id=p.id,
        code=p.code,
        name=p.name,
        monthly_credits=p.monthly_credits,
        price_cents=p.price_cents,
        max_concurrent_tasks=p.max_concurrent_tasks,
        allowed_tiers=[t.value for t in p.allowed_tiers],
        rate_limit_tier=p.rate_limit_tier.value,
        active=p.active,
        stripe_price_id=p.stripe_price_id,
    )


class PlansBody(msgspec.Struct):
    items: list[PlanBody]
    next_cursor: str | None = None


class PackageBody(msgspec.Struct):
    id: UUID
    code: str
    name: str
    credits: int
    price_cents: int
    active: bool
    stripe_price_id: str | None


def _package(p: CreditPackage) -> PackageBody:
    return PackageBody(p.id, p.code, p.name, p.credits, p.price_cents, p.active, p.stripe_price_id)


class PackagesBody(msgspec.Struct):
    items: list[PackageBody]
    next_cursor: str | None = None


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


class AdjustmentBody(msgspec.Struct):
    entry: LedgerEntryBody
    available_credits: int
    held_credits: int
    replayed: bool


class WebhookAck(msgspec.Struct):
    received: bool
    duplicate: bool


# --- request bodies ----------------------------------------------------------------------------------

Code = Annotated[str, msgspec.Meta(min_length=1, max_length=40, pattern=r"^[a-z][a-z0-9_]*$")]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
PriceId = Annotated[str, msgspec.Meta(max_length=255)]
Cents = Annotated[int, msgspec.Meta(ge=0, le=100_000_000)]
Credits = Annotated[int, msgspec.Meta(ge=0, le=1_000_000_000_000)]


class CheckoutRequestBody(msgspec.Struct, forbid_unknown_fields=True):
    package_id: UUID | None = None
    plan_id: UUID | None = None


class PlanCreateBody(msgspec.Struct, forbid_unknown_fields=True):
    code: Code
    name: Name
    monthly_credits: Credits
    price_cents: Cents
    max_concurrent_tasks: Annotated[int, msgspec.Meta(ge=1, le=1000)]
    allowed_tiers: Annotated[list[ModelTier], msgspec.Meta(min_length=1, max_length=3)]
    rate_limit_tier: RateLimitTier
    active: bool = True
    stripe_price_id: PriceId | None = None


class PlanUpdateBody(msgspec.Struct, forbid_unknown_fields=True):
    """Only the given fields change; ``stripe_price_id: ""`` clears it."""

    name: Name | None = None
    monthly_credits: Credits | None = None
    price_cents: Cents | None = None
    max_concurrent_tasks: Annotated[int, msgspec.Meta(ge=1, le=1000)] | None = None
    allowed_tiers: Annotated[list[ModelTier], msgspec.Meta(min_length=1, max_length=3)] | None = None
    rate_limit_tier: RateLimitTier | None = None
    active: bool | None = None
    stripe_price_id: PriceId | None = None


class PackageCreateBody(msgspec.Struct, forbid_unknown_fields=True):
    code: Code
    name: Name
    credits: Annotated[int, msgspec.Meta(ge=1, le=1_000_000_000_000)]
    price_cents: Annotated[int, msgspec.Meta(ge=1, le=100_000_000)]
    active: bool = True
    stripe_price_id: PriceId | None = None


class PackageUpdateBody(msgspec.Struct, forbid_unknown_fields=True):
    """Only the given fields change; ``stripe_price_id: ""`` clears it."""

    name: Name | None = None
    credits: Annotated[int, msgspec.Meta(ge=1, le=1_000_000_000_000)] | None = None
    price_cents: Annotated[int, msgspec.Meta(ge=1, le=100_000_000)] | None = None
    active: bool | None = None
    stripe_price_id: PriceId | None = None


class AdjustCreditsBody(msgspec.Struct, forbid_unknown_fields=True):
    amount_credits: Annotated[int, msgspec.Meta(ge=-1_000_000_000_000, le=1_000_000_000_000)]
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]
    kind: Literal["grant", "adjustment"] = "adjustment"
    idempotency_key: Annotated[str, msgspec.Meta(min_length=1, max_length=150)] | None = None


def _changes(body: msgspec.Struct) -> dict[str, Any]:
    changes = {k: v for k, v in msgspec.structs.asdict(body).items() if v is not None}
    if "allowed_tiers" in changes:
        changes["allowed_tiers"] = tuple(changes["allowed_tiers"])
    if changes.get("stripe_price_id") == "":
        changes["stripe_price_id"] = None
    return changes


IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key", required=False, max_length=150, description="Repeat-safe request key"
    ),
]


# --- controllers -------------------------------------------------------------------------------------


class CreditsController(Controller):
    path = "/users/credits"
    tags = ["billing"]

    @get(operation_id="get_credits", summary="Your credit balance", responses=problem_responses(401))
    @inject
    async def get_credits(self, actor: FromDishka[Actor], use_case: FromDishka[GetCredits]) -> CreditsBody:
        """Available and held credits (1 credit = 1/1000 USD) and the 10 most recent ledger entries."""
        overview = await use_case(actor)
        return CreditsBody(
            overview.account.available, overview.account.held, [_entry(e) for e in overview.recent]
        )


class BillingController(Controller):
    path = "/billing"
    tags = ["billing"]

    @get("/plans", operation_id="list_plans", summary="Plans on offer", opt=PUBLIC)
    @inject
    async def list_plans(self, use_case: FromDishka[ListPlans]) -> PlansBody:
        """Active subscription plans, cheapest first (public)."""
        return PlansBody([_plan(p) for p in await use_case()])

    @get("/packages", operation_id="list_packages", summary="Credit packages on offer", opt=PUBLIC)
    @inject
    async def list_packages(self, use_case: FromDishka[ListPackages]) -> PackagesBody:
        """Active credit packages, smallest first (public)."""
        return PackagesBody([_package(p) for p in await use_case()])

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
        return CheckoutBody(started.session_id, started.url)

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
            plan=_plan(view.plan),
            entitlements=EntitlementsBody(
                [t.value for t in ent.allowed_tiers], ent.max_concurrent_tasks, ent.rate_limit_tier.value
            ),
        )
        if view.subscription is not None:
            s = view.subscription
            body.id = s.id
            body.status = s.status.value
            body.current_period_start = _rfc3339(s.current_period_start) if s.current_period_start else None
            body.current_period_end = _rfc3339(s.current_period_end) if s.current_period_end else None
            body.cancel_at_period_end = s.cancel_at_period_end
        if view.usage is not None:
            u = view.usage
            body.usage = UsageBody(
                _rfc3339(u.period_start),
                _rfc3339(u.period_end) if u.period_end else None,
                u.credits_granted,
                u.credits_used,
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
        limit: Annotated[int, QueryParameter(ge=1, le=100)] = 20,
        cursor: Annotated[str | None, QueryParameter(max_length=255)] = None,
    ) -> InvoicesBody:
        """Your Stripe invoices, newest first."""
        page = await use_case(actor, limit, cursor)
        return InvoicesBody(
            [
                InvoiceBody(
                    i.id,
                    i.status,
                    i.amount_due_cents,
                    i.amount_paid_cents,
                    i.currency,
                    _rfc3339(i.created),
                    i.hosted_invoice_url,
                    i.number,
                )
                for i in page.items
            ],
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
        limit: Annotated[int, QueryParameter(ge=1, le=100)] = 20,
        cursor: Annotated[str | None, QueryParameter(max_length=255)] = None,
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
            [_entry(e) for e in page.items], str(page.next_cursor) if page.next_cursor else None
        )


class AdminBillingController(Controller):
    path = "/admin"
    tags = ["admin", "billing"]
    guards = [require_admin]

    @get(
        "/plans", operation_id="admin_list_plans", summary="All plans", responses=problem_responses(401, 403)
    )
    @inject
    async def list_plans(self, use_case: FromDishka[ListPlans]) -> PlansBody:
        """Every plan, including inactive ones."""
        return PlansBody([_plan(p) for p in await use_case(include_inactive=True)])

    @post(
        "/plans",
        operation_id="admin_create_plan",
        summary="Add a plan",
        status_code=HTTP_201_CREATED,
        responses=problem_responses(400, 401, 403, 409),
    )
    @inject
    async def create_plan(
        self, data: JSONBody[PlanCreateBody], actor: FromDishka[Actor], use_case: FromDishka[CreatePlan]
    ) -> Response[PlanBody]:
        """Add a subscription plan; ``code`` must be unique (409 ``code_taken``)."""
        fields = msgspec.structs.asdict(data)
        fields["allowed_tiers"] = tuple(data.allowed_tiers)
        plan = await use_case(actor, PlanDraft(**fields))
        return Response(_plan(plan), status_code=201, headers={"Location": f"/api/v1/admin/plans/{plan.id}"})

    @patch(
        "/plans/{plan_id:uuid}",
        operation_id="admin_update_plan",
        summary="Change a plan",
        responses=problem_responses(400, 401, 403, 404, 409),
    )
    @inject
    async def update_plan(
        self,
        plan_id: Annotated[UUID, PathParameter()],
        data: JSONBody[PlanUpdateBody],
        actor: FromDishka[Actor],
        use_case: FromDishka[UpdatePlan],
    ) -> PlanBody:
        """Change the given fields; ``active: false`` withdraws the plan from sale."""
        return _plan(await use_case(actor, plan_id, _changes(data)))

    @get(
        "/packages",
        operation_id="admin_list_packages",
        summary="All packages",
        responses=problem_responses(401, 403),
    )
    @inject
    async def list_packages(self, use_case: FromDishka[ListPackages]) -> PackagesBody:
        """Every credit package, including inactive ones."""
        return PackagesBody([_package(p) for p in await use_case(include_inactive=True)])

    @post(
        "/packages",
        operation_id="admin_create_package",
        summary="Add a credit package",
        status_code=HTTP_201_CREATED,
        responses=problem_responses(400, 401, 403, 409),
    )
    @inject
    async def create_package(
        self, data: JSONBody[PackageCreateBody], actor: FromDishka[Actor], use_case: FromDishka[CreatePackage]
    ) -> Response[PackageBody]:
        """Add a credit package; ``code`` must be unique (409 ``code_taken``)."""
        package = await use_case(actor, PackageDraft(**msgspec.structs.asdict(data)))
        return Response(
            _package(package), status_code=201, headers={"Location": f"/api/v1/admin/packages/{package.id}"}
        )

    @patch(
        "/packages/{package_id:uuid}",
        operation_id="admin_update_package",
        summary="Change a credit package",
        responses=problem_responses(400, 401, 403, 404, 409),
    )
    @inject
    async def update_package(
        self,
        package_id: Annotated[UUID, PathParameter()],
        data: JSONBody[PackageUpdateBody],
        actor: FromDishka[Actor],
        use_case: FromDishka[UpdatePackage],
    ) -> PackageBody:
        """Change the given fields; ``active: false`` withdraws the package from sale."""
        return _package(await use_case(actor, package_id, _changes(data)))

    @post(
        "/users/{user_id:uuid}/credits",
        operation_id="admin_adjust_credits",
        summary="Grant or correct a user's credits",
        status_code=HTTP_201_CREATED,
        responses=problem_responses(400, 401, 403, 404, 409, 422),
    )
    @inject
    async def adjust_credits(
        self,
        user_id: Annotated[UUID, PathParameter()],
        data: JSONBody[AdjustCreditsBody],
        actor: FromDishka[Actor],
        use_case: FromDishka[AdjustCredits],
        idempotency_key: IdempotencyKey = None,
    ) -> AdjustmentBody:
        """A ``grant`` (positive) or ``adjustment`` (either sign) with a mandatory ``reason``, recorded as a
        new ledger entry. An adjustment never takes the balance below zero (422
        ``balance_would_go_negative``). A repeat with the same ``Idempotency-Key`` (header or body) returns
        the original entry (``replayed: true``); the same key with another amount -> 409."""
        key = data.idempotency_key or idempotency_key
        result = await use_case(
            AdjustCreditsInput(actor, user_id, data.amount_credits, data.reason, EntryKind(data.kind), key)
        )
        return AdjustmentBody(
            _entry(result.entry), result.account.available, result.account.held, result.replayed
        )


class StripeWebhookController(Controller):
    path = "/webhooks/stripe"
    tags = ["webhooks"]
    opt = PUBLIC

    @post(
        operation_id="stripe_webhook",
        summary="Stripe events",
        status_code=HTTP_200_OK,
        responses=problem_responses(400, 422, 503),
    )
    @inject
    async def receive(
        self, request: Request[Any, Any, Any], use_case: FromDishka[HandleStripeEvent]
    ) -> WebhookAck:
        """Stripe calls this with signed events (``Stripe-Signature``). Bad or stale signatures get 400 and
        change nothing; a repeated event is acknowledged without a second effect; unknown types are
        ignored."""
        payload = await request.body()
        result = await use_case(HandleStripeEventInput(payload, request.headers.get("stripe-signature")))
        return WebhookAck(received=True, duplicate=result.duplicate)
