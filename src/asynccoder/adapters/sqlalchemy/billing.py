"""SQLAlchemy billing repositories: single-statement conditional writes, correct on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from asynccoder.adapters.sqlalchemy.billing_tables import (
    billing_customers,
    charge_refunds,
    credit_accounts,
    credit_holds,
    credit_ledger,
    credit_packages,
    invoices,
    stripe_events,
    subscription_plans,
    subscription_usage,
    subscriptions,
)
from asynccoder.adapters.sqlalchemy.dialect import insert_on_conflict
from asynccoder.adapters.sqlalchemy.errors import constraint_name
from asynccoder.application.ports.billing import (
    BillingCatalogueRepository,
    CreditLedgerRepository,
    EntryFilter,
    ProcessedEventRepository,
    SubscriptionRepository,
)
from asynccoder.domain.ai import ModelTier
from asynccoder.domain.billing import (
    CreditAccount,
    CreditHold,
    CreditPackage,
    EntryKind,
    HoldStatus,
    InsufficientCredits,
    InvoiceRecord,
    LedgerEntry,
    RateLimitTier,
    Subscription,
    SubscriptionPlan,
    SubscriptionStatus,
    SubscriptionUsage,
)
from asynccoder.domain.errors import Conflict


class _Repo:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection


# --- credits -----------------------------------------------------------------------------------------


def _entry(row: Any) -> LedgerEntry:
    return LedgerEntry(
        id=row.id,
        user_id=row.user_id,
        kind=EntryKind(row.kind),
        available_delta=row.available_delta,
        held_delta=row.held_delta,
        idempotency_key=row.idempotency_key,
        created_at=row.created_at,
        hold_id=row.hold_id,
        reference=row.reference,
        reason=row.reason,
    )


def _hold(row: Any) -> CreditHold:
    return CreditHold(
        id=row.id,
        user_id=row.user_id,
        amount=row.amount,
        status=HoldStatus(row.status),
        expires_at=row.expires_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
        settled_amount=row.settled_amount,
        reference=row.reference,
    )


class SqlAlchemyCreditLedgerRepository(_Repo, CreditLedgerRepository):
    async def get_account(self, user_id: UUID) -> CreditAccount:
        row = (
            await self._conn.execute(
                sa.select(credit_accounts.c.available, credit_accounts.c.held).where(
                    credit_accounts.c.user_id == user_id
                )
            )
        ).first()
        return CreditAccount(user_id, row.available, row.held) if row else CreditAccount(user_id)

    async def post(self, entry: LedgerEntry) -> tuple[LedgerEntry, bool]:
        await self._conn.execute(
            insert_on_conflict(self._conn, credit_accounts)
            .values(user_id=entry.user_id, available=0, held=0, created_at=entry.created_at)
            .on_conflict_do_nothing(index_elements=["user_id"])
        )
        # Idempotency first: a concurrent insert of the same key waits on the unique index until the other
        # transaction ends, then does nothing.
        inserted = (
            await self._conn.execute(
                insert_on_conflict(self._conn, credit_ledger)
                .values(
                    id=entry.id,
                    user_id=entry.user_id,
                    kind=entry.kind.value,
                    available_delta=entry.available_delta,
                    held_delta=entry.held_delta,
                    idempotency_key=entry.idempotency_key,
                    hold_id=entry.hold_id,
                    reference=entry.reference,
                    reason=entry.reason,
                    created_at=entry.created_at,
                )
                .on_conflict_do_nothing(index_elements=["user_id", "idempotency_key"])
                .returning(credit_ledger.c.id)
            )
        ).first()
        if inserted is None:
            existing = await self.find_entry(entry.user_id, entry.idempotency_key)
            assert existing is not None
            return existing, False
        # The money moves in one conditional statement: it holds the row lock for this statement only and
        # cannot overdraw, whatever runs concurrently.
        result = await self._conn.execute(
            sa.update(credit_accounts)
            .where(
                credit_accounts.c.user_id == entry.user_id,
                credit_accounts.c.available + entry.available_delta >= 0,
                credit_accounts.c.held + entry.held_delta >= 0,
            )
            .values(
                available=credit_accounts.c.available + entry.available_delta,
                held=credit_accounts.c.held + entry.held_delta,
            )
        )
        if result.rowcount != 1:
            raise InsufficientCredits(f"Not enough credits: {entry.amount} needed.")
        return entry, True

    async def find_entry(self, user_id: UUID, idempotency_key: str) -> LedgerEntry | None:
        row = (
            await self._conn.execute(
                credit_ledger.select().where(
                    credit_ledger.c.user_id == user_id, credit_ledger.c.idempotency_key == idempotency_key
                )
            )
        ).first()
        return _entry(row) if row else None

    async def list_entries(self, user_id: UUID, filt: EntryFilter, limit: int) -> list[LedgerEntry]:
        query = credit_ledger.select().where(credit_ledger.c.user_id == user_id)
        if filt.kind is not None:
            query = query.where(credit_ledger.c.kind == filt.kind.value)
        if filt.created_after is not None:
            query = query.where(credit_ledger.c.created_at >= filt.created_after)
        if filt.created_before is not None:
            query = query.where(credit_ledger.c.created_at < filt.created_before)
        if filt.before_id is not None:
            query = query.where(credit_ledger.c.id < filt.before_id)
        rows = await self._conn.execute(query.order_by(credit_ledger.c.id.desc()).limit(limit))
        return [_entry(r) for r in rows]

    async def sum_entries(self, user_id: UUID) -> tuple[int, int]:
        row = (
            await self._conn.execute(
                sa.select(
                    sa.func.coalesce(sa.func.sum(credit_ledger.c.available_delta), 0),
                    sa.func.coalesce(sa.func.sum(credit_ledger.c.held_delta), 0),
                ).where(credit_ledger.c.user_id == user_id)
            )
        ).one()
        return int(row[0]), int(row[1])

    async def entries_with_reference(self, user_id: UUID, reference: str) -> list[LedgerEntry]:
        rows = await self._conn.execute(
            credit_ledger.select().where(
                credit_ledger.c.user_id == user_id, credit_ledger.c.reference == reference
            )
        )
        return [_entry(r) for r in rows]

    async def find_purchase_by_reference(self, reference: str) -> LedgerEntry | None:
        row = (
            await self._conn.execute(
                credit_ledger.select()
                .where(
                    credit_ledger.c.reference == reference, credit_ledger.c.kind == EntryKind.PURCHASE.value
                )
                .limit(1)
            )
        ).first()
        return _entry(row) if row else None

    async def _ensure_account(self, user_id: UUID, now: datetime) -> None:
        await self._conn.execute(
            insert_on_conflict(self._conn, credit_accounts)
            .values(user_id=user_id, available=0, held=0, created_at=now)
            .on_conflict_do_nothing(index_elements=["user_id"])
        )

    async def claim_charge_refund(
        self, charge_id: str, user_id: UUID, *, refunded_cents: int, credits: int, now: datetime
    ) -> int:
        await self._ensure_account(user_id, now)
        await self._conn.execute(
            insert_on_conflict(self._conn, charge_refunds)
            .values(
                stripe_charge_id=charge_id,
                user_id=user_id,
                amount_refunded_cents=0,
                credits_claimed=0,
                last_claim=0,
                updated_at=now,
            )
            .on_conflict_do_nothing(index_elements=["stripe_charge_id"])
        )
        # SET expressions read the row as it was before this UPDATE (on both databases), and a concurrent
        # claim waits on the row lock, then re-checks the WHERE against the committed value.
        raised = (
            await self._conn.execute(
                sa.update(charge_refunds)
                .where(
                    charge_refunds.c.stripe_charge_id == charge_id, charge_refunds.c.credits_claimed < credits
                )
                .values(
                    last_claim=credits - charge_refunds.c.credits_claimed,
                    credits_claimed=credits,
                    amount_refunded_cents=refunded_cents,
                    updated_at=now,
                )
                .returning(charge_refunds.c.last_claim)
            )
        ).first()
        return int(raised.last_claim) if raised else 0

    async def take_back(self, entry: LedgerEntry) -> LedgerEntry | None:
        await self._ensure_account(entry.user_id, entry.created_at)
        # A no-op UPDATE takes the account's row lock and returns the balance as of now: nothing can spend it
        # before this transaction ends, so the clamped entry below always fits.
        available = (
            await self._conn.execute(
                sa.update(credit_accounts)
                .where(credit_accounts.c.user_id == entry.user_id)
                .values(available=credit_accounts.c.available)
                .returning(credit_accounts.c.available)
            )
        ).scalar_one()
        take = min(-entry.available_delta, int(available))
        if take <= 0:
            return await self.find_entry(entry.user_id, entry.idempotency_key)
        stored, _ = await self.post(dataclasses.replace(entry, available_delta=-take))
        return stored

    async def add_hold(self, hold: CreditHold) -> None:
        await self._conn.execute(
            credit_holds.insert().values(
                id=hold.id,
                user_id=hold.user_id,
                amount=hold.amount,
                status=hold.status.value,
                settled_amount=hold.settled_amount,
                reference=hold.reference,
                expires_at=hold.expires_at,
                created_at=hold.created_at,
                updated_at=hold.updated_at,
            )
        )

    async def get_hold(self, hold_id: UUID) -> CreditHold | None:
        row = (await self._conn.execute(credit_holds.select().where(credit_holds.c.id == hold_id))).first()
        return _hold(row) if row else None

    async def finish_hold(
        self, hold_id: UUID, status: HoldStatus, now: datetime, settled_amount: int | None = None
    ) -> bool:
        result = await self._conn.execute(
            sa.update(credit_holds)
            .where(credit_holds.c.id == hold_id, credit_holds.c.status == HoldStatus.ACTIVE.value)
            .values(status=status.value, settled_amount=settled_amount, updated_at=now)
        )
        return result.rowcount == 1

    async def extend_hold(self, hold_id: UUID, expires_at: datetime, now: datetime) -> bool:
        result = await self._conn.execute(
            sa.update(credit_holds)
            .where(credit_holds.c.id == hold_id, credit_holds.c.status == HoldStatus.ACTIVE.value)
            .values(
                expires_at=sa.case(
                    (credit_holds.c.expires_at < expires_at, expires_at), else_=credit_holds.c.expires_at
                ),
                updated_at=now,
            )
        )
        return result.rowcount == 1

    async def stale_holds(self, now: datetime, limit: int) -> list[CreditHold]:
        rows = await self._conn.execute(
            credit_holds.select()
            .where(credit_holds.c.status == HoldStatus.ACTIVE.value, credit_holds.c.expires_at <= now)
            .order_by(credit_holds.c.expires_at)
            .limit(limit)
        )
        return [_hold(r) for r in rows]


# --- catalogue ---------------------------------------------------------------------------------------


def _plan(row: Any) -> SubscriptionPlan:
    return SubscriptionPlan(
        id=row.id,
        code=row.code,
        name=row.name,
        monthly_credits=row.monthly_credits,
        price_cents=row.price_cents,
        max_concurrent_tasks=row.max_concurrent_tasks,
        allowed_tiers=tuple(ModelTier(t) for t in row.allowed_tiers.split(",") if t),
        rate_limit_tier=RateLimitTier(row.rate_limit_tier),
        active=bool(row.active),
        stripe_price_id=row.stripe_price_id,
    )


def _package(row: Any) -> CreditPackage:
    return CreditPackage(
        id=row.id,
        code=row.code,
        name=row.name,
        credits=row.credits,
        price_cents=row.price_cents,
        active=bool(row.active),
        stripe_price_id=row.stripe_price_id,
    )


def _code_taken(exc: IntegrityError) -> Exception:
    name = constraint_name(exc) or ""
    if name.endswith("_code"):
        return Conflict("An item with this code exists.", code="code_taken")
    return exc


class SqlAlchemyBillingCatalogueRepository(_Repo, BillingCatalogueRepository):
    async def list_plans(self, *, include_inactive: bool = False) -> list[SubscriptionPlan]:
        query = subscription_plans.select()
        if not include_inactive:
            query = query.where(subscription_plans.c.active.is_(True))
        rows = await self._conn.execute(
            query.order_by(subscription_plans.c.price_cents, subscription_plans.c.code)
        )
        return [_plan(r) for r in rows]

    async def _one_plan(self, where: Any) -> SubscriptionPlan | None:
        row = (await self._conn.execute(subscription_plans.select().where(where).limit(1))).first()
        return _plan(row) if row else None

    async def get_plan(self, plan_id: UUID) -> SubscriptionPlan | None:
        return await self._one_plan(subscription_plans.c.id == plan_id)

    async def get_plan_by_code(self, code: str) -> SubscriptionPlan | None:
        return await self._one_plan(subscription_plans.c.code == code)

    async def get_plan_by_price(self, stripe_price_id: str) -> SubscriptionPlan | None:
        return await self._one_plan(subscription_plans.c.stripe_price_id == stripe_price_id)

    async def save_plan(self, plan: SubscriptionPlan) -> None:
        values = {
            "code": plan.code,
            "name": plan.name,
            "monthly_credits": plan.monthly_credits,
            "price_cents": plan.price_cents,
            "stripe_price_id": plan.stripe_price_id,
            "max_concurrent_tasks": plan.max_concurrent_tasks,
            "allowed_tiers": ",".join(t.value for t in plan.allowed_tiers),
            "rate_limit_tier": plan.rate_limit_tier.value,
            "active": plan.active,
        }
        try:
            await self._conn.execute(
                insert_on_conflict(self._conn, subscription_plans)
                .values(id=plan.id, **values)
                .on_conflict_do_update(index_elements=["id"], set_=values)
            )
        except IntegrityError as exc:
            raise _code_taken(exc) from None

    async def list_packages(self, *, include_inactive: bool = False) -> list[CreditPackage]:
        query = credit_packages.select()
        if not include_inactive:
            query = query.where(credit_packages.c.active.is_(True))
        rows = await self._conn.execute(query.order_by(credit_packages.c.price_cents, credit_packages.c.code))
        return [_package(r) for r in rows]

    async def get_package(self, package_id: UUID) -> CreditPackage | None:
        row = (
            await self._conn.execute(credit_packages.select().where(credit_packages.c.id == package_id))
        ).first()
        return _package(row) if row else None

    async def save_package(self, package: CreditPackage) -> None:
        values = {
            "code": package.code,
            "name": package.name,
            "credits": package.credits,
            "price_cents": package.price_cents,
            "stripe_price_id": package.stripe_price_id,
            "active": package.active,
        }
        try:
            await self._conn.execute(
                insert_on_conflict(self._conn, credit_packages)
                .values(id=package.id, **values)
                .on_conflict_do_update(index_elements=["id"], set_=values)
            )
        except IntegrityError as exc:
            raise _code_taken(exc) from None


# --- subscriptions -----------------------------------------------------------------------------------


def _subscription(row: Any) -> Subscription:
    return Subscription(
        id=row.id,
        user_id=row.user_id,
        plan_id=row.plan_id,
        stripe_subscription_id=row.stripe_subscription_id,
        status=SubscriptionStatus(row.status),
        current_period_start=row.current_period_start,
        current_period_end=row.current_period_end,
        cancel_at_period_end=bool(row.cancel_at_period_end),
        last_event_at=row.last_event_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _invoice(row: Any) -> InvoiceRecord:
    return InvoiceRecord(
        id=row.id,
        user_id=row.user_id,
        stripe_invoice_id=row.stripe_invoice_id,
        status=row.status,
        amount_paid_cents=row.amount_paid_cents,
        currency=row.currency,
        created_at=row.created_at,
        stripe_subscription_id=row.stripe_subscription_id,
        hosted_invoice_url=row.hosted_invoice_url,
    )


_CANCELED = SubscriptionStatus.CANCELED.value


class SqlAlchemySubscriptionRepository(_Repo, SubscriptionRepository):
    async def get_customer_id(self, user_id: UUID) -> str | None:
        value = await self._conn.scalar(
            sa.select(billing_customers.c.stripe_customer_id).where(billing_customers.c.user_id == user_id)
        )
        return str(value) if value is not None else None

    async def get_user_by_customer(self, stripe_customer_id: str) -> UUID | None:
        value = await self._conn.scalar(
            sa.select(billing_customers.c.user_id).where(
                billing_customers.c.stripe_customer_id == stripe_customer_id
            )
        )
        return value if isinstance(value, UUID) else None

    async def link_customer(self, user_id: UUID, stripe_customer_id: str, now: datetime) -> str:
        await self._conn.execute(
            insert_on_conflict(self._conn, billing_customers)
            .values(user_id=user_id, stripe_customer_id=stripe_customer_id, created_at=now)
            .on_conflict_do_nothing()
        )
        return await self.get_customer_id(user_id) or stripe_customer_id

    async def get_by_stripe_id(self, stripe_subscription_id: str) -> Subscription | None:
        row = (
            await self._conn.execute(
                subscriptions.select().where(subscriptions.c.stripe_subscription_id == stripe_subscription_id)
            )
        ).first()
        return _subscription(row) if row else None

    async def get(self, subscription_id: UUID) -> Subscription | None:
        row = (
            await self._conn.execute(subscriptions.select().where(subscriptions.c.id == subscription_id))
        ).first()
        return _subscription(row) if row else None

    async def current_for_user(self, user_id: UUID) -> Subscription | None:
        row = (
            await self._conn.execute(
                subscriptions.select()
                .where(subscriptions.c.user_id == user_id)
                .order_by(
                    sa.case((subscriptions.c.status == _CANCELED, 1), else_=0),
                    subscriptions.c.created_at.desc(),
                    subscriptions.c.id.desc(),
                )
                .limit(1)
            )
        ).first()
        return _subscription(row) if row else None

    @staticmethod
    def _values(s: Subscription) -> dict[str, Any]:
        return {
            "plan_id": s.plan_id,
            "status": s.status.value,
            "current_period_start": s.current_period_start,
            "current_period_end": s.current_period_end,
            "cancel_at_period_end": s.cancel_at_period_end,
            "last_event_at": s.last_event_at,
            "updated_at": s.updated_at,
        }

    async def insert_if_absent(self, subscription: Subscription) -> bool:
        row = (
            await self._conn.execute(
                insert_on_conflict(self._conn, subscriptions)
                .values(
                    id=subscription.id,
                    user_id=subscription.user_id,
                    stripe_subscription_id=subscription.stripe_subscription_id,
                    created_at=subscription.created_at,
                    **self._values(subscription),
                )
                .on_conflict_do_nothing(index_elements=["stripe_subscription_id"])
                .returning(subscriptions.c.id)
            )
        ).first()
        return row is not None

    async def apply_if_newer(self, subscription: Subscription) -> bool:
        condition = subscriptions.c.status != _CANCELED
        if subscription.status is not SubscriptionStatus.CANCELED:
            condition = sa.and_(condition, subscriptions.c.last_event_at <= subscription.last_event_at)
        result = await self._conn.execute(
            sa.update(subscriptions)
            .where(subscriptions.c.stripe_subscription_id == subscription.stripe_subscription_id, condition)
            .values(**self._values(subscription))
        )
        return result.rowcount == 1

    async def set_status_if_newer(
        self, stripe_subscription_id: str, status: SubscriptionStatus, event_at: datetime, now: datetime
    ) -> bool:
        result = await self._conn.execute(
            sa.update(subscriptions)
            .where(
                subscriptions.c.stripe_subscription_id == stripe_subscription_id,
                subscriptions.c.status != _CANCELED,
                subscriptions.c.last_event_at <= event_at,
            )
            .values(status=status.value, last_event_at=event_at, updated_at=now)
        )
        return result.rowcount == 1

    async def add_usage(
        self,
        subscription_id: UUID,
        period_start: datetime,
        period_end: datetime | None,
        *,
        granted: int,
        used: int,
    ) -> None:
        await self._conn.execute(
            insert_on_conflict(self._conn, subscription_usage)
            .values(
                subscription_id=subscription_id,
                period_start=period_start,
                period_end=period_end,
                credits_granted=0,
                credits_used=0,
            )
            .on_conflict_do_nothing()
        )
        await self._conn.execute(
            sa.update(subscription_usage)
            .where(
                subscription_usage.c.subscription_id == subscription_id,
                subscription_usage.c.period_start == period_start,
            )
            .values(
                credits_granted=subscription_usage.c.credits_granted + granted,
                credits_used=subscription_usage.c.credits_used + used,
            )
        )

    async def get_usage(self, subscription_id: UUID, period_start: datetime) -> SubscriptionUsage | None:
        row = (
            await self._conn.execute(
                subscription_usage.select().where(
                    subscription_usage.c.subscription_id == subscription_id,
                    subscription_usage.c.period_start == period_start,
                )
            )
        ).first()
        if row is None:
            return None
        return SubscriptionUsage(
            row.subscription_id, row.period_start, row.period_end, row.credits_granted, row.credits_used
        )

    async def record_invoice(self, invoice: InvoiceRecord) -> bool:
        row = (
            await self._conn.execute(
                insert_on_conflict(self._conn, invoices)
                .values(
                    id=invoice.id,
                    user_id=invoice.user_id,
                    stripe_invoice_id=invoice.stripe_invoice_id,
                    stripe_subscription_id=invoice.stripe_subscription_id,
                    status=invoice.status,
                    amount_paid_cents=invoice.amount_paid_cents,
                    currency=invoice.currency[:3],
                    hosted_invoice_url=invoice.hosted_invoice_url,
                    created_at=invoice.created_at,
                )
                .on_conflict_do_nothing(index_elements=["stripe_invoice_id"])
                .returning(invoices.c.id)
            )
        ).first()
        if row is None:
            await self._conn.execute(
                sa.update(invoices)
                .where(invoices.c.stripe_invoice_id == invoice.stripe_invoice_id)
                .values(status=invoice.status)
            )
            return False
        return True

    async def list_invoices(self, user_id: UUID, limit: int, before_id: UUID | None) -> list[InvoiceRecord]:
        query = invoices.select().where(invoices.c.user_id == user_id)
        if before_id is not None:
            query = query.where(invoices.c.id < before_id)
        rows = await self._conn.execute(query.order_by(invoices.c.id.desc()).limit(limit))
        return [_invoice(r) for r in rows]


class SqlAlchemyProcessedEventRepository(_Repo, ProcessedEventRepository):
    async def add(self, event_id: str, event_type: str, created: datetime, received_at: datetime) -> bool:
        row = (
            await self._conn.execute(
                insert_on_conflict(self._conn, stripe_events)
                .values(id=event_id, type=event_type[:100], created=created, received_at=received_at)
                .on_conflict_do_nothing(index_elements=["id"])
                .returning(stripe_events.c.id)
            )
        ).first()
        return row is not None
