"""In-memory billing state (one field of ``MemoryState``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from asynccoder.domain.billing import (
    SEED_PACKAGES,
    SEED_PLANS,
    CreditAccount,
    CreditHold,
    CreditPackage,
    InvoiceRecord,
    LedgerEntry,
    Subscription,
    SubscriptionPlan,
    SubscriptionUsage,
)


def _plans() -> dict[UUID, SubscriptionPlan]:
    return {p.id: p for p in SEED_PLANS}


def _packages() -> dict[UUID, CreditPackage]:
    return {p.id: p for p in SEED_PACKAGES}


@dataclass
class BillingState:
    accounts: dict[UUID, CreditAccount] = field(default_factory=dict)
    entries: list[LedgerEntry] = field(default_factory=list)
    entry_keys: dict[tuple[UUID, str], LedgerEntry] = field(default_factory=dict)
    holds: dict[UUID, CreditHold] = field(default_factory=dict)
    plans: dict[UUID, SubscriptionPlan] = field(default_factory=_plans)
    packages: dict[UUID, CreditPackage] = field(default_factory=_packages)
    customers: dict[UUID, str] = field(default_factory=dict)
    subscriptions: dict[UUID, Subscription] = field(default_factory=dict)
    usage: dict[tuple[UUID, datetime], SubscriptionUsage] = field(default_factory=dict)
    invoices: dict[str, InvoiceRecord] = field(default_factory=dict)
    stripe_events: set[str] = field(default_factory=set)
