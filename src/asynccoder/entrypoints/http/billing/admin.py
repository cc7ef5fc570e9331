"""Billing administration over HTTP: plans, packages and credit adjustments (admin role)."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

import msgspec
from dishka.integrations.litestar import FromDishka, inject
from litestar import Controller, Response, get, patch, post
from litestar.params import JSONBody, PathParameter
from litestar.status_codes import HTTP_201_CREATED

from asynccoder.application.billing.catalogue import (
    CreatePackage,
    CreatePackageInput,
    CreatePlan,
    CreatePlanInput,
    ListPackages,
    ListPlans,
    UpdatePackage,
    UpdatePackageInput,
    UpdatePlan,
    UpdatePlanInput,
)
from asynccoder.application.billing.credits import (
    AdjustCredits,
    AdjustCreditsInput,
)
from asynccoder.domain.ai import ModelTier
from asynccoder.domain.billing import (
    EntryKind,
    RateLimitTier,
)
from asynccoder.domain.identity import Actor
from asynccoder.entrypoints.http.auth import require_admin
from asynccoder.entrypoints.http.billing.schemas import (
    IdempotencyKey,
    LedgerEntryBody,
    PackageBody,
    PackagesBody,
    PlanBody,
    PlansBody,
    entry_out,
    package_out,
    plan_out,
)
from asynccoder.entrypoints.http.common import (
    API_PREFIX,
    problem_responses,
)


class AdjustmentBody(msgspec.Struct):
    entry: LedgerEntryBody
    available_credits: int
    held_credits: int
    replayed: bool


# --- request bodies ----------------------------------------------------------------------------------

Code = Annotated[str, msgspec.Meta(min_length=1, max_length=40, pattern=r"^[a-z][a-z0-9_]*$")]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
PriceId = Annotated[str, msgspec.Meta(max_length=255)]
Cents = Annotated[int, msgspec.Meta(ge=0, le=100_000_000)]
Credits = Annotated[int, msgspec.Meta(ge=0, le=1_000_000_000_000)]


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
        return PlansBody([plan_out(p) for p in await use_case(include_inactive=True)])

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
        plan = await use_case(
            CreatePlanInput(
                actor,
                code=data.code,
                name=data.name,
                monthly_credits=data.monthly_credits,
                price_cents=data.price_cents,
                max_concurrent_tasks=data.max_concurrent_tasks,
                allowed_tiers=tuple(data.allowed_tiers),
                rate_limit_tier=data.rate_limit_tier,
                active=data.active,
                stripe_price_id=data.stripe_price_id,
            )
        )
        return Response(
            plan_out(plan), status_code=201, headers={"Location": f"{API_PREFIX}/admin/plans/{plan.id}"}
        )

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
        return plan_out(
            await use_case(
                UpdatePlanInput(
                    actor,
                    plan_id,
                    name=data.name,
                    monthly_credits=data.monthly_credits,
                    price_cents=data.price_cents,
                    max_concurrent_tasks=data.max_concurrent_tasks,
                    allowed_tiers=tuple(data.allowed_tiers) if data.allowed_tiers is not None else None,
                    rate_limit_tier=data.rate_limit_tier,
                    active=data.active,
                    stripe_price_id=data.stripe_price_id,
                )
            )
        )

    @get(
        "/packages",
        operation_id="admin_list_packages",
        summary="All packages",
        responses=problem_responses(401, 403),
    )
    @inject
    async def list_packages(self, use_case: FromDishka[ListPackages]) -> PackagesBody:
        """Every credit package, including inactive ones."""
        return PackagesBody([package_out(p) for p in await use_case(include_inactive=True)])

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
        package = await use_case(
            CreatePackageInput(
                actor,
                code=data.code,
                name=data.name,
                credits=data.credits,
                price_cents=data.price_cents,
                active=data.active,
                stripe_price_id=data.stripe_price_id,
            )
        )
        return Response(
            package_out(package),
            status_code=201,
            headers={"Location": f"{API_PREFIX}/admin/packages/{package.id}"},
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
        return package_out(
            await use_case(
                UpdatePackageInput(
                    actor,
                    package_id,
                    name=data.name,
                    credits=data.credits,
                    price_cents=data.price_cents,
                    active=data.active,
                    stripe_price_id=data.stripe_price_id,
                )
            )
        )

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
            entry_out(result.entry), result.account.available, result.account.held, result.replayed
        )
