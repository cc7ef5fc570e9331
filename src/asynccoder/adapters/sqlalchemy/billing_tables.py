"""Billing tables: credit accounts, the append-only ledger, holds, plans, packages, subscriptions, Stripe."""

from __future__ import annotations

import sqlalchemy as sa

from asynccoder.adapters.sqlalchemy.tables import UtcDateTime, metadata

LEDGER_SIGN_RULES = (
    "(kind IN ('grant', 'purchase') AND available_delta > 0 AND held_delta = 0)"
    " OR (kind = 'hold' AND available_delta < 0 AND held_delta = -available_delta)"
    " OR (kind = 'settle' AND available_delta = 0 AND held_delta <= 0)"
    " OR (kind IN ('release', 'expiry') AND available_delta > 0 AND held_delta = -available_delta)"
    " OR (kind IN ('refund', 'adjustment') AND available_delta <> 0 AND held_delta = 0)"
)

SUBSCRIPTION_STATUSES = "('trialing', 'active', 'past_due', 'incomplete', 'unpaid', 'paused', 'canceled')"

credit_accounts = sa.Table(
    "credit_accounts",
    metadata,
    sa.Column("user_id", sa.Uuid(), sa.ForeignKey("users.id"), primary_key=True),
    sa.Column("available", sa.BigInteger(), nullable=False),
    sa.Column("held", sa.BigInteger(), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.CheckConstraint("available >= 0", name="available_non_negative"),
    sa.CheckConstraint("held >= 0", name="held_non_negative"),
)

credit_ledger = sa.Table(
    "credit_ledger",
    metadata,
    sa.Column("id", sa.Uuid(), primary_key=True),
    sa.Column("user_id", sa.Uuid(), sa.ForeignKey("credit_accounts.user_id"), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("available_delta", sa.BigInteger(), nullable=False),
    sa.Column("held_delta", sa.BigInteger(), nullable=False),
    sa.Column("idempotency_key", sa.String(200), nullable=False),
    sa.Column("hold_id", sa.Uuid(), nullable=True),
    sa.Column("reference", sa.String(255), nullable=True),
    sa.Column("reason", sa.String(500), nullable=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.UniqueConstraint("user_id", "idempotency_key"),
    sa.CheckConstraint(
        "kind IN ('grant', 'purchase', 'hold', 'settle', 'release', 'refund', 'expiry', 'adjustment')",
        name="kind",
    ),
    sa.CheckConstraint(LEDGER_SIGN_RULES, name="sign_rules"),
    sa.Index("ix_credit_ledger_user_id_id", "user_id", "id"),
    sa.Index("ix_credit_ledger_reference", "reference"),
)

credit_holds = sa.Table(
    "credit_holds",
    metadata,
    sa.Column("id", sa.Uuid(), primary_key=True),
    sa.Column("user_id", sa.Uuid(), sa.ForeignKey("credit_accounts.user_id"), nullable=False),
    sa.Column("amount", sa.BigInteger(), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("settled_amount", sa.BigInteger(), nullable=True),
    sa.Column("reference", sa.String(255), nullable=True),
    sa.Column("expires_at", UtcDateTime(), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    sa.CheckConstraint("amount > 0", name="amount_positive"),
    sa.CheckConstraint("status IN ('active', 'settled', 'released', 'expired')", name="status"),
    sa.CheckConstraint(
        "settled_amount IS NULL OR (settled_amount >= 0 AND settled_amount <= amount)", name="settled_amount"
    ),
    sa.Index("ix_credit_holds_status_expires_at", "status", "expires_at"),
)

subscription_plans = sa.Table(
    "subscription_plans",
    metadata,
    sa.Column("id", sa.Uuid(), primary_key=True),
    sa.Column("code", sa.String(40), nullable=False),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("monthly_credits", sa.BigInteger(), nullable=False),
    sa.Column("price_cents", sa.Integer(), nullable=False),
    sa.Column("stripe_price_id", sa.String(255), nullable=True),
    sa.Column("max_concurrent_tasks", sa.Integer(), nullable=False),
    sa.Column("allowed_tiers", sa.String(100), nullable=False),
    sa.Column("rate_limit_tier", sa.String(16), nullable=False),
    sa.Column("active", sa.Boolean(), nullable=False),
    sa.UniqueConstraint("code"),
    sa.CheckConstraint("monthly_credits >= 0", name="monthly_credits"),
    sa.CheckConstraint("price_cents >= 0", name="price_cents"),
    sa.CheckConstraint("max_concurrent_tasks >= 1", name="max_concurrent_tasks"),
)

credit_packages = sa.Table(
    "credit_packages",
    metadata,
    sa.Column("id", sa.Uuid(), primary_key=True),
    sa.Column("code", sa.String(40), nullable=False),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("credits", sa.BigInteger(), nullable=False),
    sa.Column("price_cents", sa.Integer(), nullable=False),
    sa.Column("stripe_price_id", sa.String(255), nullable=True),
    sa.Column("active", sa.Boolean(), nullable=False),
    sa.UniqueConstraint("code"),
    sa.CheckConstraint("credits > 0", name="credits"),
    sa.CheckConstraint("price_cents > 0", name="price_cents"),
)

billing_customers = sa.Table(
    "billing_customers",
    metadata,
    sa.Column("user_id", sa.Uuid(), sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("stripe_customer_id", sa.String(255), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.UniqueConstraint("stripe_customer_id"),
)

subscriptions = sa.Table(
    "subscriptions",
    metadata,
    sa.Column("id", sa.Uuid(), primary_key=True),
    sa.Column("user_id", sa.Uuid(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("plan_id", sa.Uuid(), sa.ForeignKey("subscription_plans.id"), nullable=False),
    sa.Column("stripe_subscription_id", sa.String(255), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("current_period_start", UtcDateTime(), nullable=True),
    sa.Column("current_period_end", UtcDateTime(), nullable=True),
    sa.Column("cancel_at_period_end", sa.Boolean(), nullable=False),
    sa.Column("last_event_at", UtcDateTime(), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    sa.UniqueConstraint("stripe_subscription_id"),
    sa.CheckConstraint(f"status IN {SUBSCRIPTION_STATUSES}", name="status"),
    sa.Index("ix_subscriptions_user_id", "user_id"),
)

subscription_usage = sa.Table(
    "subscription_usage",
    metadata,
    sa.Column(
        "subscription_id", sa.Uuid(), sa.ForeignKey("subscriptions.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("period_start", UtcDateTime(), primary_key=True),
    sa.Column("period_end", UtcDateTime(), nullable=True),
    sa.Column("credits_granted", sa.BigInteger(), nullable=False),
    sa.Column("credits_used", sa.BigInteger(), nullable=False),
    sa.CheckConstraint("credits_granted >= 0 AND credits_used >= 0", name="non_negative"),
)

stripe_events = sa.Table(
    "stripe_events",
    metadata,
    sa.Column("id", sa.String(255), primary_key=True),
    sa.Column("type", sa.String(100), nullable=False),
    sa.Column("created", UtcDateTime(), nullable=False),
    sa.Column("received_at", UtcDateTime(), nullable=False),
)

invoices = sa.Table(
    "invoices",
    metadata,
    sa.Column("id", sa.Uuid(), primary_key=True),
    sa.Column("user_id", sa.Uuid(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("stripe_invoice_id", sa.String(255), nullable=False),
    sa.Column("stripe_subscription_id", sa.String(255), nullable=True),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("amount_paid_cents", sa.BigInteger(), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("hosted_invoice_url", sa.Text(), nullable=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.UniqueConstraint("stripe_invoice_id"),
    sa.Index("ix_invoices_user_id_id", "user_id", "id"),
)

# One row per refunded Stripe charge: the credits its refunds have claimed back so far. ``last_claim`` is what
# the latest raise added (set in the same UPDATE, from the old value), so each refund event takes back only
# the difference.
charge_refunds = sa.Table(
    "charge_refunds",
    metadata,
    sa.Column("stripe_charge_id", sa.String(255), primary_key=True),
    sa.Column("user_id", sa.Uuid(), sa.ForeignKey("credit_accounts.user_id"), nullable=False),
    sa.Column("amount_refunded_cents", sa.BigInteger(), nullable=False),
    sa.Column("credits_claimed", sa.BigInteger(), nullable=False),
    sa.Column("last_claim", sa.BigInteger(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    sa.CheckConstraint(
        "amount_refunded_cents >= 0 AND credits_claimed >= 0 AND last_claim >= 0", name="non_negative"
    ),
)
