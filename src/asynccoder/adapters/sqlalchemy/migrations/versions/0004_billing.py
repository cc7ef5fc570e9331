"""billing: credit accounts, ledger, holds, plans, packages, subscriptions, Stripe events

Revision ID: 0004_billing
Revises: 0002_github_connections
Create Date: 2026-11-30
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from asynccoder.adapters.sqlalchemy.tables import UtcDateTime

revision: str = "0004_billing"
down_revision: str | Sequence[str] | None = "0002_github_connections"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "credit_packages",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("credits", sa.BigInteger(), nullable=False),
        sa.Column("price_cents", sa.Integer(), nullable=False),
        sa.Column("stripe_price_id", sa.String(length=255), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.CheckConstraint("credits > 0", name=op.f("ck_credit_packages_credits")),
        sa.CheckConstraint("price_cents > 0", name=op.f("ck_credit_packages_price_cents")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_packages")),
        sa.UniqueConstraint("code", name=op.f("uq_credit_packages_code")),
    )
    op.create_table(
        "stripe_events",
        sa.Column("id", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=100), nullable=False),
        sa.Column("created", UtcDateTime(), nullable=False),
        sa.Column("received_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stripe_events")),
    )
    op.create_table(
        "subscription_plans",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("monthly_credits", sa.BigInteger(), nullable=False),
        sa.Column("price_cents", sa.Integer(), nullable=False),
        sa.Column("stripe_price_id", sa.String(length=255), nullable=True),
        sa.Column("max_concurrent_tasks", sa.Integer(), nullable=False),
        sa.Column("allowed_tiers", sa.String(length=100), nullable=False),
        sa.Column("rate_limit_tier", sa.String(length=16), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.CheckConstraint(
            "max_concurrent_tasks >= 1", name=op.f("ck_subscription_plans_max_concurrent_tasks")
        ),
        sa.CheckConstraint("monthly_credits >= 0", name=op.f("ck_subscription_plans_monthly_credits")),
        sa.CheckConstraint("price_cents >= 0", name=op.f("ck_subscription_plans_price_cents")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscription_plans")),
        sa.UniqueConstraint("code", name=op.f("uq_subscription_plans_code")),
    )
    op.create_table(
        "billing_customers",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("stripe_customer_id", sa.String(length=255), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_billing_customers_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_billing_customers")),
        sa.UniqueConstraint("stripe_customer_id", name=op.f("uq_billing_customers_stripe_customer_id")),
    )
    op.create_table(
        "credit_accounts",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("available", sa.BigInteger(), nullable=False),
        sa.Column("held", sa.BigInteger(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint("available >= 0", name=op.f("ck_credit_accounts_available_non_negative")),
        sa.CheckConstraint("held >= 0", name=op.f("ck_credit_accounts_held_non_negative")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_credit_accounts_user_id_users")),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_credit_accounts")),
    )
    op.create_table(
        "invoices",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("stripe_invoice_id", sa.String(length=255), nullable=False),
        sa.Column("stripe_subscription_id", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("amount_paid_cents", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("hosted_invoice_url", sa.Text(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_invoices_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoices")),
        sa.UniqueConstraint("stripe_invoice_id", name=op.f("uq_invoices_stripe_invoice_id")),
    )
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.create_index("ix_invoices_user_id_id", ["user_id", "id"], unique=False)

    op.create_table(
        "subscriptions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("plan_id", sa.Uuid(), nullable=False),
        sa.Column("stripe_subscription_id", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("current_period_start", UtcDateTime(), nullable=True),
        sa.Column("current_period_end", UtcDateTime(), nullable=True),
        sa.Column("cancel_at_period_end", sa.Boolean(), nullable=False),
        sa.Column("last_event_at", UtcDateTime(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint(
            "status IN ('trialing', 'active', 'past_due', 'canceled')", name=op.f("ck_subscriptions_status")
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["subscription_plans.id"], name=op.f("fk_subscriptions_plan_id_subscription_plans")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_subscriptions_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscriptions")),
        sa.UniqueConstraint("stripe_subscription_id", name=op.f("uq_subscriptions_stripe_subscription_id")),
    )
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.create_index("ix_subscriptions_user_id", ["user_id"], unique=False)

    op.create_table(
        "credit_holds",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("settled_amount", sa.BigInteger(), nullable=True),
        sa.Column("reference", sa.String(length=255), nullable=True),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint(
            "status IN ('active', 'settled', 'released', 'expired')", name=op.f("ck_credit_holds_status")
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_credit_holds_amount_positive")),
        sa.CheckConstraint(
            "settled_amount IS NULL OR (settled_amount >= 0 AND settled_amount <= amount)",
            name=op.f("ck_credit_holds_settled_amount"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["credit_accounts.user_id"], name=op.f("fk_credit_holds_user_id_credit_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_holds")),
    )
    with op.batch_alter_table("credit_holds", schema=None) as batch_op:
        batch_op.create_index("ix_credit_holds_status_expires_at", ["status", "expires_at"], unique=False)

    op.create_table(
        "credit_ledger",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("available_delta", sa.BigInteger(), nullable=False),
        sa.Column("held_delta", sa.BigInteger(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("hold_id", sa.Uuid(), nullable=True),
        sa.Column("reference", sa.String(length=255), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint(
            (
                "(kind IN ('grant', 'purchase') AND available_delta > 0 AND held_delta = 0)"
                " OR (kind = 'hold' AND available_delta < 0"
                " AND held_delta = -available_delta)"
                " OR (kind = 'settle' AND available_delta = 0 AND held_delta <= 0)"
                " OR (kind IN ('release', 'expiry') AND available_delta > 0"
                " AND held_delta = -available_delta)"
                " OR (kind IN ('refund', 'adjustment') AND available_delta <> 0 AND held_delta = 0)"
            ),
            name=op.f("ck_credit_ledger_sign_rules"),
        ),
        sa.CheckConstraint(
            "kind IN ('grant', 'purchase', 'hold', 'settle', 'release', 'refund', 'expiry', 'adjustment')",
            name=op.f("ck_credit_ledger_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["credit_accounts.user_id"], name=op.f("fk_credit_ledger_user_id_credit_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_ledger")),
        sa.UniqueConstraint(
            "user_id", "idempotency_key", name=op.f("uq_credit_ledger_user_id_idempotency_key")
        ),
    )
    with op.batch_alter_table("credit_ledger", schema=None) as batch_op:
        batch_op.create_index("ix_credit_ledger_reference", ["reference"], unique=False)
        batch_op.create_index("ix_credit_ledger_user_id_id", ["user_id", "id"], unique=False)

    op.create_table(
        "subscription_usage",
        sa.Column("subscription_id", sa.Uuid(), nullable=False),
        sa.Column("period_start", UtcDateTime(), nullable=False),
        sa.Column("period_end", UtcDateTime(), nullable=True),
        sa.Column("credits_granted", sa.BigInteger(), nullable=False),
        sa.Column("credits_used", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "credits_granted >= 0 AND credits_used >= 0", name=op.f("ck_subscription_usage_non_negative")
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["subscriptions.id"],
            name=op.f("fk_subscription_usage_subscription_id_subscriptions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("subscription_id", "period_start", name=op.f("pk_subscription_usage")),
    )

    _seed_catalogue()
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_APPEND_ONLY_FUNCTION)
        op.execute(_APPEND_ONLY_TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS credit_ledger_append_only ON credit_ledger")
        op.execute("DROP FUNCTION IF EXISTS credit_ledger_append_only()")
    op.drop_table("subscription_usage")
    with op.batch_alter_table("credit_ledger", schema=None) as batch_op:
        batch_op.drop_index("ix_credit_ledger_user_id_id")
        batch_op.drop_index("ix_credit_ledger_reference")

    op.drop_table("credit_ledger")
    with op.batch_alter_table("credit_holds", schema=None) as batch_op:
        batch_op.drop_index("ix_credit_holds_status_expires_at")

    op.drop_table("credit_holds")
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.drop_index("ix_subscriptions_user_id")

    op.drop_table("subscriptions")
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.drop_index("ix_invoices_user_id_id")

    op.drop_table("invoices")
    op.drop_table("credit_accounts")
    op.drop_table("billing_customers")
    op.drop_table("subscription_plans")
    op.drop_table("stripe_events")
    op.drop_table("credit_packages")


# The ledger is append-only: on PostgreSQL the database itself refuses to edit or delete an entry. (SQLite has
# no such trigger here; there the repository simply never issues UPDATE or DELETE on it.)
_APPEND_ONLY_FUNCTION = """
CREATE OR REPLACE FUNCTION credit_ledger_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'credit_ledger is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'restrict_violation';
END
$$ LANGUAGE plpgsql
"""
_APPEND_ONLY_TRIGGER = """
CREATE TRIGGER credit_ledger_append_only BEFORE UPDATE OR DELETE ON credit_ledger
FOR EACH ROW EXECUTE FUNCTION credit_ledger_append_only()
"""

# The catalogue at the time of this migration (see README "Plans and credit packages"). Later changes are
# made by admins through /api/v1/admin/plans and /api/v1/admin/packages, not by editing this list.
_PLANS = [
    # id suffix, code, name, monthly credits, price cents, max concurrent tasks, tiers, rate-limit tier
    ("f001", "free", "Free", 0, 0, 1, "economy", "basic"),
    ("f002", "pro", "Pro", 20_000, 2_000, 3, "economy,standard,premium", "elevated"),
    ("f003", "enterprise", "Enterprise", 250_000, 20_000, 10, "economy,standard,premium", "unlimited"),
]
_PACKAGES = [
    ("e001", "starter", "Starter", 5_000, 500),
    ("e002", "builder", "Builder", 22_000, 2_000),
    ("e003", "studio", "Studio", 60_000, 5_000),
]


def _seed_catalogue() -> None:
    plans = sa.table(
        "subscription_plans",
        sa.column("id", sa.Uuid()),
        sa.column("code", sa.String()),
        sa.column("name", sa.String()),
        sa.column("monthly_credits", sa.BigInteger()),
        sa.column("price_cents", sa.Integer()),
        sa.column("stripe_price_id", sa.String()),
        sa.column("max_concurrent_tasks", sa.Integer()),
        sa.column("allowed_tiers", sa.String()),
        sa.column("rate_limit_tier", sa.String()),
        sa.column("active", sa.Boolean()),
    )
    packages = sa.table(
        "credit_packages",
        sa.column("id", sa.Uuid()),
        sa.column("code", sa.String()),
        sa.column("name", sa.String()),
        sa.column("credits", sa.BigInteger()),
        sa.column("price_cents", sa.Integer()),
        sa.column("stripe_price_id", sa.String()),
        sa.column("active", sa.Boolean()),
    )
    op.bulk_insert(
        plans,
        [
            {
                "id": uuid.UUID(f"01930000-0000-7000-8000-00000000{suffix}"),
                "code": code,
                "name": name,
                "monthly_credits": credits,
                "price_cents": price,
                "stripe_price_id": None,
                "max_concurrent_tasks": concurrent,
                "allowed_tiers": tiers,
                "rate_limit_tier": rate,
                "active": True,
            }
            for suffix, code, name, credits, price, concurrent, tiers, rate in _PLANS
        ],
    )
    op.bulk_insert(
        packages,
        [
            {
                "id": uuid.UUID(f"01930000-0000-7000-8000-00000000{suffix}"),
                "code": code,
                "name": name,
                "credits": credits,
                "price_cents": price,
                "stripe_price_id": None,
                "active": True,
            }
            for suffix, code, name, credits, price in _PACKAGES
        ],
    )
