"""pull_request_comments.side and start_line: which side of the diff an inline comment is on, and where a
multi-line one starts; repositories.html_url is null for local repositories (it held a file:// server path)

Revision ID: 0018_review_comment_sides
Revises: 0015_repository_test_command
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018_review_comment_sides"
down_revision: str | Sequence[str] | None = "0016_procrastinate"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("pull_request_comments") as batch:
        batch.add_column(sa.Column("side", sa.String(5), nullable=True))
        batch.add_column(sa.Column("start_line", sa.Integer(), nullable=True))
        batch.create_check_constraint(op.f("ck_pull_request_comments_side"), "side IN ('RIGHT', 'LEFT')")
    with op.batch_alter_table("repositories") as batch:
        batch.alter_column("html_url", existing_type=sa.String(2048), nullable=True)
    op.execute("UPDATE repositories SET html_url = NULL WHERE host = 'local'")


def downgrade() -> None:
    op.execute("UPDATE repositories SET html_url = 'file://' || clone_url WHERE html_url IS NULL")
    with op.batch_alter_table("repositories") as batch:
        batch.alter_column("html_url", existing_type=sa.String(2048), nullable=False)
    with op.batch_alter_table("pull_request_comments") as batch:
        batch.drop_constraint(op.f("ck_pull_request_comments_side"), type_="check")
        batch.drop_column("start_line")
        batch.drop_column("side")
