"""Credits, the append-only ledger, holds, plans, packages and subscriptions.

Unit: 1 credit = 1/1000 USD (0.1 cent) = 1,000 micro-USD (``MICRO_USD_PER_CREDIT``). Amounts are integers,
never floats.

The ledger: every change to an account is one ``LedgerEntry`` carrying two signed deltas, one on ``available``
and one on ``held``. An account's ``available`` is the sum of the entries' ``available_delta``, its ``held``
the sum of their ``held_delta`` (``balance = sum of entries``). Neither may go below zero. Entries are never
edited or deleted: a correction is a new, compensating entry. Every entry has an idempotency key unique per
account; posting an entry whose key exists changes nothing and yields the original entry.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from asynccoder.domain.ai import ModelTier
from asynccoder.domain.errors import FieldProblem, InvalidInput, PaymentRequired

MICRO_USD_PER_CREDIT = 1_000

MAX_IDEMPOTENCY_KEY_LENGTH = 200
MAX_REASON_LENGTH = 500


class EntryKind(enum.StrEnum):
    """What a ledger entry records; the sign rules are enforced by ``LedgerEntry`` and the database."""

    GRANT = "grant"  # free credits: plan allowance, promotions. available +n
    PURCHASE = "purchase"  # a paid credit package. available +n
    HOLD = "hold"  # reserve for a task. available -n, held +n
    SETTLE = "settle"  # actual usage of a hold is spent. held -n (n may be 0)
    RELEASE = "release"  # the unused part of a hold returns. held -n, available +n
    REFUND = "refund"  # credits returned to the user (+n) or clawed back after a payment refund (-n)
    EXPIRY = "expiry"  # a stale hold expired: its amount returns. held -n, available +n
    ADJUSTMENT = "adjustment"  # an admin correction, either sign. available +/-n


POSITIVE_KINDS = frozenset({EntryKind.GRANT, EntryKind.PURCHASE})


class InsufficientCredits(PaymentRequired):
    """The account does not have the available credits the operation needs."""

    code = "insufficient_credits"


def validate_idempotency_key(key: str) -> str:
    key = key.strip()
    if not key or len(key) > MAX_IDEMPOTENCY_KEY_LENGTH or not key.isprintable():
        raise InvalidInput(
            "The idempotency key is not valid.",
            problems=[
                FieldProblem("idempotency_key", f"must be 1 to {MAX_IDEMPOTENCY_KEY_LENGTH} characters")
            ],
        )
    return key


def validate_amount(amount: int, *, field: str = "amount_credits", allow_zero: bool = False) -> int:
    if (
        isinstance(amount, bool)
        or not isinstance(amount, int)
        or amount < 0
        or (amount == 0 and not allow_zero)
    ):
        raise InvalidInput(
            "The amount is not valid.",
            problems=[FieldProblem(field, "must be a positive whole number of credits")],
        )
    return amount


def sign_rules_hold(kind: EntryKind, available_delta: int, held_delta: int) -> bool:
    """The sign rules of each entry kind (the database CHECK constraint mirrors these)."""
    if kind in POSITIVE_KINDS:
        return available_delta > 0 and held_delta == 0
    if kind is EntryKind.HOLD:
        return available_delta < 0 and held_delta == -available_delta
    if kind is EntryKind.SETTLE:
        return available_delta == 0 and held_delta <= 0
    if kind in (EntryKind.RELEASE, EntryKind.EXPIRY):
        return available_delta > 0 and held_delta == -available_delta
    # refund, adjustment
    return available_delta != 0 and held_delta == 0


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One immutable change to a user's credit account."""

    id: UUID
    user_id: UUID
    kind: EntryKind
    available_delta: int
    held_delta: int
    idempotency_key: str
    created_at: datetime
    hold_id: UUID | None = None
    reference: str | None = None  # an outside id: Stripe checkout session, invoice, charge; a task id
    reason: str | None = None

    def __post_init__(self) -> None:
        if not sign_rules_hold(self.kind, self.available_delta, self.held_delta):
            raise ValueError(f"a {self.kind} entry cannot move ({self.available_delta}, {self.held_delta})")

    @property
    def amount(self) -> int:
        """The size of the movement (always >= 0)."""
        return abs(self.available_delta) if self.available_delta else abs(self.held_delta)


@dataclass(frozen=True, slots=True)
class CreditAccount:
    """A user's credits: ``available`` can be spent, ``held`` is reserved by running work."""

    user_id: UUID
    available: int = 0
    held: int = 0

    def apply(self, entry: LedgerEntry) -> CreditAccount:
        """The account after ``entry``; ``InsufficientCredits`` if either amount would go below zero."""
        available = self.available + entry.available_delta
        held = self.held + entry.held_delta
        if available < 0 or held < 0:
            raise InsufficientCredits(
                f"Not enough credits: {self.available} available, {entry.amount} needed."
            )
        return CreditAccount(self.user_id, available, held)

    @property
    def total(self) -> int:
        return self.available + self.held


class HoldStatus(enum.StrEnum):
    ACTIVE = "active"
    SETTLED = "settled"
    RELEASED = "released"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class CreditHold:
    """Credits reserved for one piece of work; settles, releases or expires exactly once."""

    id: UUID
    user_id: UUID
    amount: int
    status: HoldStatus
    expires_at: datetime
    created_at: datetime
    updated_at: datetime
    settled_amount: int | None = None
    reference: str | None = None

    @property
    def is_active(self) -> bool:
        return self.status is HoldStatus.ACTIVE


class RateLimitTier(enum.StrEnum):
    BASIC = "basic"
    ELEVATED = "elevated"
    UNLIMITED = "unlimited"


@dataclass(frozen=True, slots=True)
class SubscriptionPlan:
    """What a subscription costs and entitles to. ``code`` is a stable slug (``free``, ``pro``)."""

    id: UUID
    code: str
    name: str
    monthly_credits: int
    price_cents: int
    max_concurrent_tasks: int
    allowed_tiers: tuple[ModelTier, ...]
    rate_limit_tier: RateLimitTier
    active: bool
    stripe_price_id: str | None = None


@dataclass(frozen=True, slots=True)
class CreditPackage:
    """Credits bought once for a price."""

    id: UUID
    code: str
    name: str
    credits: int
    price_cents: int
    active: bool
    stripe_price_id: str | None = None


FREE_PLAN_CODE = "free"


class SubscriptionStatus(enum.StrEnum):
    """Stripe's subscription states we keep. Only ``trialing``, ``active`` and ``past_due`` (Stripe is still
    retrying the payment) entitle to the paid plan; ``incomplete`` (first payment not made), ``unpaid``
    (retries exhausted), ``paused`` (trial ended without a payment method) and ``canceled`` do not."""

    TRIALING = "trialing"
    ACTIVE = "active"
    PAST_DUE = "past_due"
    INCOMPLETE = "incomplete"
    UNPAID = "unpaid"
    PAUSED = "paused"
    CANCELED = "canceled"

    @property
    def entitles(self) -> bool:
        return self in _ENTITLING_STATUSES


_ENTITLING_STATUSES = frozenset(
    {SubscriptionStatus.TRIALING, SubscriptionStatus.ACTIVE, SubscriptionStatus.PAST_DUE}
)


def subscription_status_from_stripe(raw: str) -> SubscriptionStatus:
    """Stripe's status string; ``incomplete_expired`` is final like ``canceled``, and a status we do not know
    entitles to nothing (``unpaid``) until Stripe says otherwise."""
    if raw == "incomplete_expired":
        return SubscriptionStatus.CANCELED
    try:
        return SubscriptionStatus(raw)
    except ValueError:
        return SubscriptionStatus.UNPAID


@dataclass(frozen=True, slots=True)
class Subscription:
    """A user's subscription to a paid plan, mirrored from Stripe.

    Rules: ``last_event_at`` is the Stripe ``created`` time of the newest event applied; an older event never
    overwrites a newer state, and ``canceled`` is final (a late update never revives it).
    """

    id: UUID
    user_id: UUID
    plan_id: UUID
    stripe_subscription_id: str
    status: SubscriptionStatus
    current_period_start: datetime | None
    current_period_end: datetime | None
    cancel_at_period_end: bool
    last_event_at: datetime
    created_at: datetime
    updated_at: datetime

    def entitles_at(self, now: datetime) -> bool:
        """Canceled subscriptions, and ones set to cancel whose period has ended, fall back to Free."""
        if not self.status.entitles:
            return False
        return not (
            self.cancel_at_period_end
            and self.current_period_end is not None
            and now >= self.current_period_end
        )


@dataclass(frozen=True, slots=True)
class Entitlements:
    """What the user's current plan allows."""

    plan_id: UUID
    plan_code: str
    allowed_tiers: tuple[ModelTier, ...]
    max_concurrent_tasks: int
    rate_limit_tier: RateLimitTier

    def allows(self, tier: ModelTier) -> bool:
        return tier in self.allowed_tiers


@dataclass(frozen=True, slots=True)
class SubscriptionUsage:
    """Credits granted and used during one subscription period."""

    subscription_id: UUID
    period_start: datetime
    period_end: datetime | None
    credits_granted: int
    credits_used: int


@dataclass(frozen=True, slots=True)
class InvoiceRecord:
    """A Stripe invoice we have seen in a webhook (the monthly grant is keyed by its id)."""

    id: UUID
    user_id: UUID
    stripe_invoice_id: str
    status: str
    amount_paid_cents: int
    currency: str
    created_at: datetime
    stripe_subscription_id: str | None = None
    hosted_invoice_url: str | None = None


# The catalogue the migration seeds (fixed ids so every database and the in-memory store agree).
SEED_PLANS: tuple[SubscriptionPlan, ...] = (
    SubscriptionPlan(
        id=UUID("01930000-0000-7000-8000-00000000f001"),
        code=FREE_PLAN_CODE,
        name="Free",
        monthly_credits=0,
        price_cents=0,
        max_concurrent_tasks=1,
        allowed_tiers=(ModelTier.ECONOMY,),
        rate_limit_tier=RateLimitTier.BASIC,
        active=True,
    ),
    SubscriptionPlan(
        id=UUID("01930000-0000-7000-8000-00000000f002"),
        code="pro",
        name="Pro",
        monthly_credits=20_000,
        price_cents=2_000,
        max_concurrent_tasks=3,
        allowed_tiers=(ModelTier.ECONOMY, ModelTier.STANDARD, ModelTier.PREMIUM),
        rate_limit_tier=RateLimitTier.ELEVATED,
        active=True,
    ),
    SubscriptionPlan(
        id=UUID("01930000-0000-7000-8000-00000000f003"),
        code="enterprise",
        name="Enterprise",
        monthly_credits=250_000,
        price_cents=20_000,
        max_concurrent_tasks=10,
        allowed_tiers=(ModelTier.ECONOMY, ModelTier.STANDARD, ModelTier.PREMIUM),
        rate_limit_tier=RateLimitTier.UNLIMITED,
        active=True,
    ),
)

SEED_PACKAGES: tuple[CreditPackage, ...] = (
    CreditPackage(
        id=UUID("01930000-0000-7000-8000-00000000e001"),
        code="starter",
        name="Starter",
        credits=5_000,
        price_cents=500,
        active=True,
    ),
    CreditPackage(
        id=UUID("01930000-0000-7000-8000-00000000e002"),
        code="builder",
        name="Builder",
        credits=22_000,
        price_cents=2_000,
        active=True,
    ),
    CreditPackage(
        id=UUID("01930000-0000-7000-8000-00000000e003"),
        code="studio",
        name="Studio",
        credits=60_000,
        price_cents=5_000,
        active=True,
    ),
)
