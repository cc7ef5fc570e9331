"""billing: refunded amount per Stripe charge; the incomplete, unpaid and paused subscription states

Revision ID: 0010_billing_stripe
Revises: 0009_tasks
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from asynccoder.adapters.sqlalchemy.tables import UtcDateTime

revision: str = "0010_billing_stripe"
down_revision: str | Sequence[str] | None = "0009_tasks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_STATUSES = "status IN ('trialing', 'active', 'past_due', 'canceled')"
NEW_STATUSES = "status IN ('trialing', 'active', 'past_due', 'incomplete', 'unpaid', 'paused', 'canceled')"


def upgrade() -> None:
    op.create_table(
        "charge_refunds",
        sa.Column("stripe_charge_id", sa.String(255), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("amount_refunded_cents", sa.BigInteger(), nullable=False),
        sa.Column("credits_claimed", sa.BigInteger(), nullable=False),
        sa.Column("last_claim", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint(
            "amount_refunded_cents >= 0 AND credits_claimed >= 0 AND last_claim >= 0",
            name=op.f("ck_charge_refunds_non_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["credit_accounts.user_id"], name=op.f("fk_charge_refunds_user_id_credit_accounts")
        ),
        sa.PrimaryKeyConstraint("stripe_charge_id", name=op.f("pk_charge_refunds")),
    )
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_subscriptions_status"), type_="check")
        batch_op.create_check_constraint(op.f("ck_subscriptions_status"), NEW_STATUSES)


def downgrade() -> None:
    # The old schema does not know these states. None of them entitles to the paid plan, and of the old
    # states only canceled does not either.
    op.execute(
        "UPDATE subscriptions SET status = 'canceled' WHERE status IN ('incomplete', 'unpaid', 'paused')"
    )
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_subscriptions_status"), type_="check")
        batch_op.create_check_constraint(op.f("ck_subscriptions_status"), OLD_STATUSES)
    op.drop_table("charge_refunds")
