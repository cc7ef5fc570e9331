"""repositories.test_command: the command Debug tasks run in the sandbox

Revision ID: 0015_repository_test_command
Revises: 0009_tasks
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_repository_test_command"
down_revision: str | Sequence[str] | None = "0014_task_queue"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("repositories") as batch:
        batch.add_column(sa.Column("test_command", sa.String(500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("repositories") as batch:
        batch.drop_column("test_command")
