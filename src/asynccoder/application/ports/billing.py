"""Ports for credits, plans, subscriptions and the payment provider."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol
from uuid import UUID

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

# --- the payment provider -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LineItem:
    """One thing to pay for: a Stripe price id, or inline price data (name + amount)."""

    name: str
    unit_amount_cents: int
    stripe_price_id: str | None = None
    recurring_monthly: bool = False
    quantity: int = 1


@dataclass(frozen=True, slots=True)
class CheckoutRequest:
    mode: Literal["payment", "subscription"]
    customer_id: str
    item: LineItem
    success_url: str
    cancel_url: str
    client_reference_id: str
    metadata: dict[str, str]
    idempotency_key: str


@dataclass(frozen=True, slots=True)
class CheckoutSession:
    id: str
    url: str


@dataclass(frozen=True, slots=True)
class ProviderInvoice:
    id: str
    status: str
    amount_due_cents: int
    amount_paid_cents: int
    currency: str
    created: datetime
    hosted_invoice_url: str | None
    number: str | None


@dataclass(frozen=True, slots=True)
class InvoicePage:
    items: list[ProviderInvoice]
    has_more: bool


@dataclass(frozen=True, slots=True)
class CheckoutCompleted:
    """A checkout session finished (``checkout.session.completed`` or ``async_payment_succeeded``).
    ``user_id`` and ``package_id`` come from the metadata we set; ``paid_payment`` is a paid one-time payment
    (not a subscription)."""

    session_id: str | None
    customer_id: str | None
    payment_intent_id: str | None
    paid_payment: bool
    user_id: UUID | None = None
    package_id: UUID | None = None


@dataclass(frozen=True, slots=True)
class SubscriptionChanged:
    """A subscription was created, updated or deleted; the periods are those of the subscription or else of
    its first item, ``price_id`` that of the first item."""

    subscription_id: str | None
    deleted: bool
    status: SubscriptionStatus
    customer_id: str | None
    price_id: str | None
    current_period_start: datetime | None
    current_period_end: datetime | None
    cancel_at_period_end: bool
    user_id: UUID | None = None
    plan_id: UUID | None = None


@dataclass(frozen=True, slots=True)
class InvoiceSettled:
    """An invoice was paid (``paid``) or its payment failed; ``user_id``/``plan_id`` come from the
    subscription's metadata, ``price_id`` and the period from the first line that is not a proration (the
    service period it pays for); ``billing_reason`` is Stripe's (``subscription_create``,
    ``subscription_cycle``, ``subscription_update`` for prorations, ``manual`` ...)."""

    paid: bool
    invoice_id: str | None
    subscription_id: str | None
    customer_id: str | None
    amount_paid_cents: int
    currency: str
    hosted_invoice_url: str | None
    price_id: str | None
    period_start: datetime | None
    period_end: datetime | None
    user_id: UUID | None = None
    plan_id: UUID | None = None
    billing_reason: str | None = None


@dataclass(frozen=True, slots=True)
class ChargeRefunded:
    """A charge was refunded, in part or in full (``amount_refunded`` of ``amount``, in cents)."""

    charge_id: str | None
    payment_intent_id: str | None
    amount_cents: int | None
    amount_refunded_cents: int | None


PaymentEventData = CheckoutCompleted | SubscriptionChanged | InvoiceSettled | ChargeRefunded


@dataclass(frozen=True, slots=True)
class PaymentEvent:
    """A verified webhook event, decoded by the gateway: ``data`` is ``None`` for a type we do not act on;
    ``created`` is ``None`` when the event does not say (the receiver then uses its receipt time)."""

    id: str
    type: str
    created: datetime | None
    data: PaymentEventData | None = None


class PaymentGateway(Protocol):
    """The payment provider (Stripe). Calls carry idempotency keys derived from our ids. Failures raise
    ``Unavailable`` (provider down) or ``Conflict`` (an idempotency key reused with different parameters)."""

    async def create_customer(self, *, user_id: UUID, email: str, idempotency_key: str) -> str: ...

    async def create_checkout_session(self, request: CheckoutRequest) -> CheckoutSession: ...

    async def create_portal_session(
        self, *, customer_id: str, return_url: str, idempotency_key: str
    ) -> str: ...

    async def list_invoices(
        self, *, customer_id: str, limit: int, starting_after: str | None
    ) -> InvoicePage: ...

    async def retrieve_subscription(self, subscription_id: str) -> SubscriptionChanged | None:
        """The subscription as the provider has it now (Stripe's advice for ordering webhooks: re-read the
        object instead of trusting the event order); ``None`` when the provider does not know it."""
        ...

    def parse_event(self, payload: bytes, signature_header: str | None) -> PaymentEvent:
        """Verify the signature over the raw ``payload`` (with the timestamp tolerance) and decode the event;
        ``InvalidInput`` (code ``invalid_signature``) when it does not verify."""
        ...


@dataclass(frozen=True, slots=True)
class EntryFilter:
    kind: EntryKind | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    before_id: UUID | None = None  # cursor: entries older than this one


class CreditLedgerRepository(Protocol):
    """Credit accounts, the append-only ledger and holds. Every write is a single conditional statement.

    ``post`` is the only way money moves: it inserts the entry unless its ``(user_id, idempotency_key)``
    exists (then it returns the stored entry and ``False`` and changes nothing) and applies its deltas to the
    account with ``available + d >= 0 AND held + h >= 0`` in the statement; when that condition fails it
    raises
    ``InsufficientCredits`` and the caller's unit of work must roll back (the entry insert with it).
    """

    async def get_account(self, user_id: UUID) -> CreditAccount: ...

    async def post(self, entry: LedgerEntry) -> tuple[LedgerEntry, bool]: ...

    async def find_entry(self, user_id: UUID, idempotency_key: str) -> LedgerEntry | None: ...

    async def list_entries(self, user_id: UUID, filt: EntryFilter, limit: int) -> list[LedgerEntry]: ...

    async def sum_entries(self, user_id: UUID) -> tuple[int, int]: ...

    async def entries_with_reference(self, user_id: UUID, reference: str) -> list[LedgerEntry]: ...

    async def find_purchase_by_reference(self, reference: str) -> LedgerEntry | None: ...

    async def claim_charge_refund(
        self, charge_id: str, user_id: UUID, *, refunded_cents: int, credits: int, now: datetime
    ) -> int:
        """Raise the credits claimed back for a refunded charge to ``credits`` in one conditional statement
        (one row per charge); returns the increase, ``0`` when as much or more was claimed before. Concurrent
        claims for one charge therefore add up to the largest ``credits``, never more."""
        ...

    async def take_back(self, entry: LedgerEntry) -> LedgerEntry | None:
        """Post ``entry`` (a negative ``refund``) for at most the account's available credits, reading them
        under the account's row lock so the amount cannot change before the entry is posted (never raises
        ``InsufficientCredits``); ``None`` when nothing is available. Idempotent by key like ``post``."""
        ...

    async def add_hold(self, hold: CreditHold) -> None: ...

    async def get_hold(self, hold_id: UUID) -> CreditHold | None: ...

    async def finish_hold(
        self, hold_id: UUID, status: HoldStatus, now: datetime, settled_amount: int | None = None
    ) -> bool:
        """Move an active hold to ``status``; ``False`` when it was not active (it finishes only once)."""
        ...

    async def extend_hold(self, hold_id: UUID, expires_at: datetime, now: datetime) -> bool:
        """Push an active hold's expiry to ``expires_at`` if later; ``False`` when the hold is not active."""
        ...

    async def stale_holds(self, now: datetime, limit: int) -> list[CreditHold]: ...


class BillingCatalogueRepository(Protocol):
    """Subscription plans and credit packages; ``code`` is unique in each (``Conflict`` ``code_taken``)."""

    async def list_plans(self, *, include_inactive: bool = False) -> list[SubscriptionPlan]: ...

    async def get_plan(self, plan_id: UUID) -> SubscriptionPlan | None: ...

    async def get_plan_by_code(self, code: str) -> SubscriptionPlan | None: ...

    async def get_plan_by_price(self, stripe_price_id: str) -> SubscriptionPlan | None: ...

    async def save_plan(self, plan: SubscriptionPlan) -> None: ...

    async def list_packages(self, *, include_inactive: bool = False) -> list[CreditPackage]: ...

    async def get_package(self, package_id: UUID) -> CreditPackage | None: ...

    async def save_package(self, package: CreditPackage) -> None: ...


class SubscriptionRepository(Protocol):
    """Subscriptions, their usage per period, Stripe customers and invoices."""

    async def get_customer_id(self, user_id: UUID) -> str | None: ...

    async def get_user_by_customer(self, stripe_customer_id: str) -> UUID | None: ...

    async def link_customer(self, user_id: UUID, stripe_customer_id: str, now: datetime) -> str:
        """Store the user's customer id unless one exists; returns the stored one (first writer wins)."""
        ...

    async def get_by_stripe_id(self, stripe_subscription_id: str) -> Subscription | None: ...

    async def get(self, subscription_id: UUID) -> Subscription | None: ...

    async def current_for_user(self, user_id: UUID) -> Subscription | None:
        """The newest subscription not canceled, else the newest canceled one, else ``None``."""
        ...

    async def insert_if_absent(self, subscription: Subscription) -> bool: ...

    async def apply_if_newer(self, subscription: Subscription) -> bool:
        """Overwrite the row with the same Stripe id only if ``subscription.last_event_at`` is not older than
        the stored one and the stored status is not ``canceled``; ``True`` when it changed."""
        ...

    async def set_status_if_newer(
        self, stripe_subscription_id: str, status: SubscriptionStatus, event_at: datetime, now: datetime
    ) -> bool: ...

    async def add_usage(
        self,
        subscription_id: UUID,
        period_start: datetime,
        period_end: datetime | None,
        *,
        granted: int,
        used: int,
    ) -> None: ...

    async def get_usage(self, subscription_id: UUID, period_start: datetime) -> SubscriptionUsage | None: ...

    async def record_invoice(self, invoice: InvoiceRecord) -> bool:
        """Insert, or update the status of, the invoice with this Stripe id; ``True`` if newly inserted."""
        ...

    async def list_invoices(
        self, user_id: UUID, limit: int, before_id: UUID | None
    ) -> list[InvoiceRecord]: ...


class ProcessedEventRepository(Protocol):
    """Stripe event ids already applied. ``add`` is ``INSERT ... ON CONFLICT DO NOTHING``: ``False`` on a
    duplicate. Used inside the same unit of work as the event's effect, so a rollback forgets the id too."""

    async def add(self, event_id: str, event_type: str, created: datetime, received_at: datetime) -> bool: ...
