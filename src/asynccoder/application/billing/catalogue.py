"""Plans, credit packages and what a user's plan entitles them to."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import TypeVar
from uuid import UUID

from asynccoder.application.ports.system import (
    Clock,
    IdGenerator,
)
from asynccoder.application.ports.uow import UnitOfWork
from asynccoder.domain.ai import ModelTier
from asynccoder.domain.billing import (
    FREE_PLAN_CODE,
    SEED_PLANS,
    CreditPackage,
    Entitlements,
    RateLimitTier,
    SubscriptionPlan,
)
from asynccoder.domain.errors import FieldProblem, InvalidInput, NotFound
from asynccoder.domain.identity import Actor

T = TypeVar("T")

_CODE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


def _check_common(code: str, name: str, price_cents: int) -> None:
    problems = []
    if not _CODE.match(code):
        problems.append(FieldProblem("code", "must be a lower_snake slug of 1 to 40 characters"))
    if not name.strip() or len(name) > 100:
        problems.append(FieldProblem("name", "must be 1 to 100 characters"))
    if price_cents < 0:
        problems.append(FieldProblem("price_cents", "must not be negative"))
    if problems:
        raise InvalidInput("The plan or package is not valid.", problems=problems)


def validate_plan(plan: SubscriptionPlan) -> SubscriptionPlan:
    _check_common(plan.code, plan.name, plan.price_cents)
    problems = []
    if plan.monthly_credits < 0:
        problems.append(FieldProblem("monthly_credits", "must not be negative"))
    if plan.max_concurrent_tasks < 1:
        problems.append(FieldProblem("max_concurrent_tasks", "must be at least 1"))
    if not plan.allowed_tiers:
        problems.append(FieldProblem("allowed_tiers", "must list at least one tier"))
    if problems:
        raise InvalidInput("The plan is not valid.", problems=problems)
    tiers = tuple(t for t in ModelTier if t in plan.allowed_tiers)
    return dataclasses.replace(plan, allowed_tiers=tiers, name=plan.name.strip())


def validate_package(package: CreditPackage) -> CreditPackage:
    _check_common(package.code, package.name, package.price_cents)
    if package.credits < 1:
        raise InvalidInput("The package is not valid.", problems=[FieldProblem("credits", "must be >= 1")])
    if package.price_cents < 1:
        raise InvalidInput(
            "The package is not valid.", problems=[FieldProblem("price_cents", "must be >= 1")]
        )
    return dataclasses.replace(package, name=package.name.strip())


class ListPlans:
    """Plans on offer (active only), cheapest first; admins may ask for inactive ones too."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, *, include_inactive: bool = False) -> list[SubscriptionPlan]:
        async with self._uow as uow:
            return await uow.billing_catalogue.list_plans(include_inactive=include_inactive)


class ListPackages:
    """Credit packages on offer (active only), smallest first; admins may ask for inactive ones too."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, *, include_inactive: bool = False) -> list[CreditPackage]:
        async with self._uow as uow:
            return await uow.billing_catalogue.list_packages(include_inactive=include_inactive)


@dataclass(frozen=True, slots=True)
class CreatePlanInput:
    actor: Actor
    code: str
    name: str
    monthly_credits: int
    price_cents: int
    max_concurrent_tasks: int
    allowed_tiers: tuple[ModelTier, ...]
    rate_limit_tier: RateLimitTier
    active: bool = True
    stripe_price_id: str | None = None


class CreatePlan:
    """Admins add a plan. Rules: admin only; valid fields; ``code`` unique (``Conflict`` ``code_taken``)."""

    def __init__(self, uow: UnitOfWork, ids: IdGenerator) -> None:
        self._uow, self._ids = uow, ids

    async def __call__(self, data: CreatePlanInput) -> SubscriptionPlan:
        data.actor.require_admin()
        plan = validate_plan(
            SubscriptionPlan(
                id=self._ids.new_id(),
                code=data.code,
                name=data.name,
                monthly_credits=data.monthly_credits,
                price_cents=data.price_cents,
                max_concurrent_tasks=data.max_concurrent_tasks,
                allowed_tiers=data.allowed_tiers,
                rate_limit_tier=data.rate_limit_tier,
                active=data.active,
                stripe_price_id=data.stripe_price_id,
            )
        )
        async with self._uow as uow:
            await uow.billing_catalogue.save_plan(plan)
            await uow.commit()
        return plan


@dataclass(frozen=True, slots=True)
class UpdatePlanInput:
    """The fields to change; ``None`` keeps a field, ``stripe_price_id=""`` clears the price id."""

    actor: Actor
    plan_id: UUID
    name: str | None = None
    monthly_credits: int | None = None
    price_cents: int | None = None
    max_concurrent_tasks: int | None = None
    allowed_tiers: tuple[ModelTier, ...] | None = None
    rate_limit_tier: RateLimitTier | None = None
    active: bool | None = None
    stripe_price_id: str | None = None


class UpdatePlan:
    """Admins change a plan (only the given fields). Deactivating hides it from new checkouts; existing
    subscriptions keep it. Rules: admin only; unknown plan -> ``NotFound``; same validation as creation."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, data: UpdatePlanInput) -> SubscriptionPlan:
        data.actor.require_admin()
        async with self._uow as uow:
            plan = await uow.billing_catalogue.get_plan(data.plan_id)
            if plan is None:
                raise NotFound("No such plan.")
            updated = validate_plan(
                SubscriptionPlan(
                    id=plan.id,
                    code=plan.code,
                    name=_keep(data.name, plan.name),
                    monthly_credits=_keep(data.monthly_credits, plan.monthly_credits),
                    price_cents=_keep(data.price_cents, plan.price_cents),
                    max_concurrent_tasks=_keep(data.max_concurrent_tasks, plan.max_concurrent_tasks),
                    allowed_tiers=_keep(data.allowed_tiers, plan.allowed_tiers),
                    rate_limit_tier=_keep(data.rate_limit_tier, plan.rate_limit_tier),
                    active=_keep(data.active, plan.active),
                    stripe_price_id=_price_id(data.stripe_price_id, plan.stripe_price_id),
                )
            )
            await uow.billing_catalogue.save_plan(updated)
            await uow.commit()
            return updated


def _keep(new: T | None, old: T) -> T:
    return old if new is None else new


def _price_id(new: str | None, old: str | None) -> str | None:
    """``None`` keeps the stored price id, ``""`` clears it."""
    if new is None:
        return old
    return new or None


@dataclass(frozen=True, slots=True)
class CreatePackageInput:
    actor: Actor
    code: str
    name: str
    credits: int
    price_cents: int
    active: bool = True
    stripe_price_id: str | None = None


class CreatePackage:
    """Admins add a credit package. Rules: admin only; credits and price >= 1; ``code`` unique."""

    def __init__(self, uow: UnitOfWork, ids: IdGenerator) -> None:
        self._uow, self._ids = uow, ids

    async def __call__(self, data: CreatePackageInput) -> CreditPackage:
        data.actor.require_admin()
        package = validate_package(
            CreditPackage(
                id=self._ids.new_id(),
                code=data.code,
                name=data.name,
                credits=data.credits,
                price_cents=data.price_cents,
                active=data.active,
                stripe_price_id=data.stripe_price_id,
            )
        )
        async with self._uow as uow:
            await uow.billing_catalogue.save_package(package)
            await uow.commit()
        return package


@dataclass(frozen=True, slots=True)
class UpdatePackageInput:
    """The fields to change; ``None`` keeps a field, ``stripe_price_id=""`` clears the price id."""

    actor: Actor
    package_id: UUID
    name: str | None = None
    credits: int | None = None
    price_cents: int | None = None
    active: bool | None = None
    stripe_price_id: str | None = None


class UpdatePackage:
    """Admins change a credit package (only the given fields). Rules: admin only; unknown -> ``NotFound``."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, data: UpdatePackageInput) -> CreditPackage:
        data.actor.require_admin()
        async with self._uow as uow:
            package = await uow.billing_catalogue.get_package(data.package_id)
            if package is None:
                raise NotFound("No such package.")
            updated = validate_package(
                CreditPackage(
                    id=package.id,
                    code=package.code,
                    name=_keep(data.name, package.name),
                    credits=_keep(data.credits, package.credits),
                    price_cents=_keep(data.price_cents, package.price_cents),
                    active=_keep(data.active, package.active),
                    stripe_price_id=_price_id(data.stripe_price_id, package.stripe_price_id),
                )
            )
            await uow.billing_catalogue.save_package(updated)
            await uow.commit()
            return updated


def _entitlements(plan: SubscriptionPlan) -> Entitlements:
    return Entitlements(
        plan_id=plan.id,
        plan_code=plan.code,
        allowed_tiers=plan.allowed_tiers,
        max_concurrent_tasks=plan.max_concurrent_tasks,
        rate_limit_tier=plan.rate_limit_tier,
    )


async def entitlements_in(uow: UnitOfWork, clock: Clock, user_id: UUID) -> Entitlements:
    """``GetEntitlements`` inside the caller's unit of work."""
    subscription = await uow.subscriptions.current_for_user(user_id)
    if subscription is not None and subscription.entitles_at(clock.now()):
        plan = await uow.billing_catalogue.get_plan(subscription.plan_id)
        if plan is not None:
            return _entitlements(plan)
    free = await uow.billing_catalogue.get_plan_by_code(FREE_PLAN_CODE)
    return _entitlements(free or SEED_PLANS[0])


class GetEntitlements:
    """What the user's current plan allows: model tiers, concurrent tasks and rate-limit tier.

    Rules: a trialing, active or past-due subscription entitles to its plan; a canceled one, or one set to
    cancel whose period has ended, falls back to the Free plan, as does having no subscription at all.
    """

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(self, user_id: UUID) -> Entitlements:
        async with self._uow.read_only() as uow:
            return await entitlements_in(uow, self._clock, user_id)
