"""Wire structs shared by the billing routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

import msgspec
from litestar.params import HeaderParameter

from asynccoder.domain.billing import (
    CreditPackage,
    LedgerEntry,
    SubscriptionPlan,
)
from asynccoder.entrypoints.http.common import wire


def rfc3339(moment: datetime) -> str:
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


def entry_out(e: LedgerEntry) -> LedgerEntryBody:
    return wire(
        LedgerEntryBody,
        e,
        kind=e.kind.value,
        amount_credits=e.amount,
        available_delta_credits=e.available_delta,
        held_delta_credits=e.held_delta,
        created_at=rfc3339(e.created_at),
    )


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


def plan_out(p: SubscriptionPlan) -> PlanBody:
    return wire(
        PlanBody,
        p,
        allowed_tiers=[t.value for t in p.allowed_tiers],
        rate_limit_tier=p.rate_limit_tier.value,
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


def package_out(p: CreditPackage) -> PackageBody:
    return wire(PackageBody, p)


class PackagesBody(msgspec.Struct):
    items: list[PackageBody]
    next_cursor: str | None = None


IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key", required=False, max_length=150, description="Repeat-safe request key"
    ),
]
