"""In-memory billing repositories (serializable through the store's lock)."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from uuid import UUID

from asynccoder.adapters.memory.store import BillingState, InMemoryStore
from asynccoder.application.ports.billing import (
    BillingCatalogueRepository,
    CreditLedgerRepository,
    EntryFilter,
    ProcessedEventRepository,
    SubscriptionRepository,
)
from asynccoder.domain.billing import (
    CreditAccount,
    CreditHold,
    CreditPackage,
    EntryKind,
    HoldStatus,
    InvoiceRecord,
    LedgerEntry,
    Subscription,
    SubscriptionPlan,
    SubscriptionStatus,
    SubscriptionUsage,
)
from asynccoder.domain.errors import Conflict


class _Base:
    def __init__(self, store: InMemoryStore) -> None:
        self._store = store

    @property
    def _s(self) -> BillingState:
        return self._store.state.billing


class InMemoryCreditLedgerRepository(_Base, CreditLedgerRepository):
    async def get_account(self, user_id: UUID) -> CreditAccount:
        return self._s.accounts.get(user_id) or CreditAccount(user_id)

    async def post(self, entry: LedgerEntry) -> tuple[LedgerEntry, bool]:
        existing = self._s.entry_keys.get((entry.user_id, entry.idempotency_key))
        if existing is not None:
            return existing, False
        account = (self._s.accounts.get(entry.user_id) or CreditAccount(entry.user_id)).apply(entry)
        self._s.accounts[entry.user_id] = account
        self._s.entries.append(entry)
        self._s.entry_keys[(entry.user_id, entry.idempotency_key)] = entry
        return entry, True

    async def find_entry(self, user_id: UUID, idempotency_key: str) -> LedgerEntry | None:
        return self._s.entry_keys.get((user_id, idempotency_key))

    async def list_entries(self, user_id: UUID, filt: EntryFilter, limit: int) -> list[LedgerEntry]:
        found = [
            e
            for e in self._s.entries
            if e.user_id == user_id
            and (filt.kind is None or e.kind is filt.kind)
            and (filt.created_after is None or e.created_at >= filt.created_after)
            and (filt.created_before is None or e.created_at < filt.created_before)
            and (filt.before_id is None or e.id < filt.before_id)
        ]
        found.sort(key=lambda e: e.id, reverse=True)
        return found[:limit]

    async def sum_entries(self, user_id: UUID) -> tuple[int, int]:
        mine = [e for e in self._s.entries if e.user_id == user_id]
        return sum(e.available_delta for e in mine), sum(e.held_delta for e in mine)

    async def entries_with_reference(self, user_id: UUID, reference: str) -> list[LedgerEntry]:
        return [e for e in self._s.entries if e.user_id == user_id and e.reference == reference]

    async def find_purchase_by_reference(self, reference: str) -> LedgerEntry | None:
        return next(
            (e for e in self._s.entries if e.kind is EntryKind.PURCHASE and e.reference == reference), None
        )

    async def claim_charge_refund(
        self, charge_id: str, user_id: UUID, *, refunded_cents: int, credits: int, now: datetime
    ) -> int:
        claimed = self._s.charge_refunds.get(charge_id, 0)
        if credits <= claimed:
            return 0
        self._s.charge_refunds[charge_id] = credits
        return credits - claimed

    async def take_back(self, entry: LedgerEntry) -> LedgerEntry | None:
        available = (await self.get_account(entry.user_id)).available
        take = min(-entry.available_delta, available)
        if take <= 0:
            return await self.find_entry(entry.user_id, entry.idempotency_key)
        stored, _ = await self.post(dataclasses.replace(entry, available_delta=-take))
        return stored

    async def add_hold(self, hold: CreditHold) -> None:
        if hold.id in self._s.holds:
            raise Conflict("A hold with this id exists.")
        self._s.holds[hold.id] = hold

    async def get_hold(self, hold_id: UUID) -> CreditHold | None:
        return self._s.holds.get(hold_id)

    async def finish_hold(
        self, hold_id: UUID, status: HoldStatus, now: datetime, settled_amount: int | None = None
    ) -> bool:
        hold = self._s.holds.get(hold_id)
        if hold is None or not hold.is_active:
            return False
        self._s.holds[hold_id] = dataclasses.replace(
            hold, status=status, updated_at=now, settled_amount=settled_amount
        )
        return True

    async def extend_hold(self, hold_id: UUID, expires_at: datetime, now: datetime) -> bool:
        hold = self._s.holds.get(hold_id)
        if hold is None or not hold.is_active:
            return False
        self._s.holds[hold_id] = dataclasses.replace(
            hold, expires_at=max(hold.expires_at, expires_at), updated_at=now
        )
        return True

    async def stale_holds(self, now: datetime, limit: int) -> list[CreditHold]:
        stale = [h for h in self._s.holds.values() if h.is_active and h.expires_at <= now]
        stale.sort(key=lambda h: h.expires_at)
        return stale[:limit]


class InMemoryBillingCatalogueRepository(_Base, BillingCatalogueRepository):
    async def list_plans(self, *, include_inactive: bool = False) -> list[SubscriptionPlan]:
        plans = [p for p in self._s.plans.values() if include_inactive or p.active]
        return sorted(plans, key=lambda p: (p.price_cents, p.code))

    async def get_plan(self, plan_id: UUID) -> SubscriptionPlan | None:
        return self._s.plans.get(plan_id)

    async def get_plan_by_code(self, code: str) -> SubscriptionPlan | None:
        return next((p for p in self._s.plans.values() if p.code == code), None)

    async def get_plan_by_price(self, stripe_price_id: str) -> SubscriptionPlan | None:
        return next((p for p in self._s.plans.values() if p.stripe_price_id == stripe_price_id), None)

    async def save_plan(self, plan: SubscriptionPlan) -> None:
        if any(p.code == plan.code and p.id != plan.id for p in self._s.plans.values()):
            raise Conflict("A plan with this code exists.", code="code_taken")
        self._s.plans[plan.id] = plan

    async def list_packages(self, *, include_inactive: bool = False) -> list[CreditPackage]:
        packages = [p for p in self._s.packages.values() if include_inactive or p.active]
        return sorted(packages, key=lambda p: (p.price_cents, p.code))

    async def get_package(self, package_id: UUID) -> CreditPackage | None:
        return self._s.packages.get(package_id)

    async def save_package(self, package: CreditPackage) -> None:
        if any(p.code == package.code and p.id != package.id for p in self._s.packages.values()):
            raise Conflict("A package with this code exists.", code="code_taken")
        self._s.packages[package.id] = package


class InMemorySubscriptionRepository(_Base, SubscriptionRepository):
    async def get_customer_id(self, user_id: UUID) -> str | None:
        return self._s.customers.get(user_id)

    async def get_user_by_customer(self, stripe_customer_id: str) -> UUID | None:
        return next((u for u, c in self._s.customers.items() if c == stripe_customer_id), None)

    async def link_customer(self, user_id: UUID, stripe_customer_id: str, now: datetime) -> str:
        if user_id not in self._s.customers and await self.get_user_by_customer(stripe_customer_id) is None:
            self._s.customers[user_id] = stripe_customer_id
        return self._s.customers.get(user_id, stripe_customer_id)

    async def get_by_stripe_id(self, stripe_subscription_id: str) -> Subscription | None:
        return next(
            (s for s in self._s.subscriptions.values() if s.stripe_subscription_id == stripe_subscription_id),
            None,
        )

    async def get(self, subscription_id: UUID) -> Subscription | None:
        return self._s.subscriptions.get(subscription_id)

    async def current_for_user(self, user_id: UUID) -> Subscription | None:
        mine = [s for s in self._s.subscriptions.values() if s.user_id == user_id]
        mine.sort(
            key=lambda s: (s.status is not SubscriptionStatus.CANCELED, s.created_at, s.id), reverse=True
        )
        return mine[0] if mine else None

    async def insert_if_absent(self, subscription: Subscription) -> bool:
        if await self.get_by_stripe_id(subscription.stripe_subscription_id) is not None:
            return False
        self._s.subscriptions[subscription.id] = subscription
        return True

    async def apply_if_newer(self, subscription: Subscription) -> bool:
        stored = await self.get_by_stripe_id(subscription.stripe_subscription_id)
        if stored is None or stored.status is SubscriptionStatus.CANCELED:
            return False
        if (
            subscription.status is not SubscriptionStatus.CANCELED
            and subscription.last_event_at < stored.last_event_at
        ):
            return False
        self._s.subscriptions[stored.id] = dataclasses.replace(
            subscription, id=stored.id, user_id=stored.user_id, created_at=stored.created_at
        )
        return True

    async def set_status_if_newer(
        self, stripe_subscription_id: str, status: SubscriptionStatus, event_at: datetime, now: datetime
    ) -> bool:
        stored = await self.get_by_stripe_id(stripe_subscription_id)
        if stored is None or stored.status is SubscriptionStatus.CANCELED or event_at < stored.last_event_at:
            return False
        self._s.subscriptions[stored.id] = dataclasses.replace(
            stored, status=status, last_event_at=event_at, updated_at=now
        )
        return True

    async def add_usage(
        self,
        subscription_id: UUID,
        period_start: datetime,
        period_end: datetime | None,
        *,
        granted: int,
        used: int,
    ) -> None:
        key = (subscription_id, period_start)
        usage = self._s.usage.get(key) or SubscriptionUsage(subscription_id, period_start, period_end, 0, 0)
        self._s.usage[key] = dataclasses.replace(
            usage,
            credits_granted=usage.credits_granted + granted,
            credits_used=usage.credits_used + used,
            period_end=usage.period_end or period_end,
        )

    async def get_usage(self, subscription_id: UUID, period_start: datetime) -> SubscriptionUsage | None:
        return self._s.usage.get((subscription_id, period_start))

    async def record_invoice(self, invoice: InvoiceRecord) -> bool:
        stored = self._s.invoices.get(invoice.stripe_invoice_id)
        if stored is not None:
            self._s.invoices[invoice.stripe_invoice_id] = dataclasses.replace(stored, status=invoice.status)
            return False
        self._s.invoices[invoice.stripe_invoice_id] = invoice
        return True

    async def list_invoices(self, user_id: UUID, limit: int, before_id: UUID | None) -> list[InvoiceRecord]:
        mine = [
            i
            for i in self._s.invoices.values()
            if i.user_id == user_id and (before_id is None or i.id < before_id)
        ]
        return sorted(mine, key=lambda i: i.id, reverse=True)[:limit]


class InMemoryProcessedEventRepository(_Base, ProcessedEventRepository):
    async def add(self, event_id: str, event_type: str, created: datetime, received_at: datetime) -> bool:
        if event_id in self._s.stripe_events:
            return False
        self._s.stripe_events.add(event_id)
        return True
