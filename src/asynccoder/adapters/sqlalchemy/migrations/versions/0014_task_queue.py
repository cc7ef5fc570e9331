"""task queue: the platform fee of BYOK-only tasks

Revision ID: 0014_task_queue
Revises: 0009_tasks
Create Date: 2026-12-02

Adds ``tasks.platform_fee_credits``: set on a task whose every model call answers on the user's own key; its
credit hold and its charge are this fee instead of the budget cap. ``NULL`` for every other task (and for the
tasks that exist before this revision, which were held and charged as platform tasks).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_task_queue"
down_revision: str | Sequence[str] | None = "0013_webhook_endpoints"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("platform_fee_credits", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("platform_fee_credits")
