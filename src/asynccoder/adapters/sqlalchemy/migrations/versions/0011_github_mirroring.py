"""GitHub deliveries are pruned by age: an index on ``github_deliveries.received_at``.

Revision ID: 0011_github_mirroring
Revises: 0009_tasks
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0011_github_mirroring"
down_revision: str | Sequence[str] | None = "0010_billing_stripe"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("github_deliveries", schema=None) as batch_op:
        batch_op.create_index(op.f("ix_github_deliveries_received_at"), ["received_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("github_deliveries", schema=None) as batch_op:
        batch_op.drop_index(op.f("ix_github_deliveries_received_at"))
