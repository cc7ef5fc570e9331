"""Admins create plans and packages through one typed input that carries the acting admin."""

from __future__ import annotations

import pytest

from asynccoder.adapters.memory.store import InMemoryStore
from asynccoder.adapters.memory.uow import InMemoryUnitOfWork
from asynccoder.application.billing.catalogue import (
    CreatePackage,
    CreatePackageInput,
    CreatePlan,
    CreatePlanInput,
)
from asynccoder.domain.ai import ModelTier
from asynccoder.domain.billing import RateLimitTier
from asynccoder.domain.errors import Forbidden, InvalidInput
from asynccoder.domain.identity import Actor, Role
from tests.support.builders import new_id
from tests.support.system import SequentialIdGenerator

ADMIN = Actor(new_id(), Role.ADMIN)
USER = Actor(new_id(), Role.USER)


def _plan(actor: Actor) -> CreatePlanInput:
    return CreatePlanInput(
        actor,
        code="team",
        name=" Team ",
        monthly_credits=5_000,
        price_cents=4_900,
        max_concurrent_tasks=4,
        allowed_tiers=(ModelTier.PREMIUM, ModelTier.STANDARD),
        rate_limit_tier=RateLimitTier.ELEVATED,
    )


async def test_an_admin_creates_a_plan_that_is_stored_validated_and_normalised() -> None:
    store = InMemoryStore()

    plan = await CreatePlan(InMemoryUnitOfWork(store), SequentialIdGenerator())(_plan(ADMIN))

    assert (plan.code, plan.name, plan.allowed_tiers) == (
        "team",
        "Team",
        (ModelTier.STANDARD, ModelTier.PREMIUM),
    )
    async with InMemoryUnitOfWork(store) as uow:
        assert await uow.billing_catalogue.get_plan(plan.id) == plan


async def test_a_user_may_not_create_a_plan_or_a_package() -> None:
    store = InMemoryStore()
    package = CreatePackageInput(USER, code="big", name="Big", credits=10_000, price_cents=999)

    with pytest.raises(Forbidden):
        await CreatePlan(InMemoryUnitOfWork(store), SequentialIdGenerator())(_plan(USER))
    with pytest.raises(Forbidden):
        await CreatePackage(InMemoryUnitOfWork(store), SequentialIdGenerator())(package)


async def test_an_admin_creates_a_package_and_an_invalid_one_is_refused() -> None:
    store = InMemoryStore()
    create = CreatePackage(InMemoryUnitOfWork(store), SequentialIdGenerator())

    package = await create(CreatePackageInput(ADMIN, code="big", name="Big", credits=10_000, price_cents=999))
    with pytest.raises(InvalidInput):
        await create(CreatePackageInput(ADMIN, code="free", name="Free", credits=0, price_cents=0))

    assert (package.code, package.credits, package.price_cents, package.active) == ("big", 10_000, 999, True)
