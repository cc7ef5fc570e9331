"""repositories, webhooks, pull requests, reviews, comments, deliveries, repository events

Revision ID: 0006_github
Revises: 0002_github_connections
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from asynccoder.adapters.sqlalchemy.tables import UtcDateTime

revision: str = "0006_github"
down_revision: str | Sequence[str] | None = "0002_github_connections"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "github_deliveries",
        sa.Column("delivery_id", sa.String(length=100), nullable=False),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("received_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("delivery_id", name=op.f("pk_github_deliveries")),
    )
    op.create_table(
        "repositories",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("host", sa.String(length=16), nullable=False),
        sa.Column("host_id", sa.BigInteger(), nullable=True),
        sa.Column("full_name", sa.String(length=140), nullable=False),
        sa.Column("default_branch", sa.String(length=255), nullable=False),
        sa.Column("visibility", sa.String(length=16), nullable=False),
        sa.Column("html_url", sa.String(length=2048), nullable=False),
        sa.Column("clone_url", sa.String(length=2048), nullable=False),
        sa.Column("auto_review", sa.Boolean(), nullable=False),
        sa.Column("default_model_id", sa.Uuid(), nullable=True),
        sa.Column("default_base_branch", sa.String(length=255), nullable=True),
        sa.Column("head_sha", sa.String(length=64), nullable=True),
        sa.Column("last_pushed_at", UtcDateTime(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint(
            "visibility IN ('public', 'private', 'internal')", name=op.f("ck_repositories_visibility")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_repositories")),
        sa.UniqueConstraint("host", "full_name", name=op.f("uq_repositories_host_full_name")),
        sa.UniqueConstraint("host", "host_id", name=op.f("uq_repositories_host_host_id")),
    )
    op.create_table(
        "pull_requests",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("repository_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.BigInteger(), nullable=False),
        sa.Column("title", sa.String(length=1024), nullable=False),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("author_login", sa.String(length=100), nullable=True),
        sa.Column("head_ref", sa.String(length=255), nullable=False),
        sa.Column("head_sha", sa.String(length=64), nullable=True),
        sa.Column("base_ref", sa.String(length=255), nullable=False),
        sa.Column("html_url", sa.String(length=2048), nullable=True),
        sa.Column("draft", sa.Boolean(), nullable=False),
        sa.Column("opened_by_platform", sa.Boolean(), nullable=False),
        sa.Column("merged_at", UtcDateTime(), nullable=True),
        sa.Column("closed_at", UtcDateTime(), nullable=True),
        sa.Column("source_updated_at", UtcDateTime(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint("state IN ('open', 'closed', 'merged')", name=op.f("ck_pull_requests_state")),
        sa.ForeignKeyConstraint(
            ["repository_id"],
            ["repositories.id"],
            name=op.f("fk_pull_requests_repository_id_repositories"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pull_requests")),
        sa.UniqueConstraint("repository_id", "number", name=op.f("uq_pull_requests_repository_id_number")),
    )
    op.create_table(
        "repository_events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("repository_id", sa.Uuid(), nullable=False),
        sa.Column("pull_request_id", sa.Uuid(), nullable=True),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("processed_at", UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["repository_id"],
            ["repositories.id"],
            name=op.f("fk_repository_events_repository_id_repositories"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_repository_events")),
    )
    with op.batch_alter_table("repository_events", schema=None) as batch_op:
        batch_op.create_index(op.f("ix_repository_events_processed_at"), ["processed_at"], unique=False)

    op.create_table(
        "repository_webhooks",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("repository_id", sa.Uuid(), nullable=False),
        sa.Column("host_hook_id", sa.BigInteger(), nullable=True),
        sa.Column("sealed_secret", sa.Text(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["repository_id"],
            ["repositories.id"],
            name=op.f("fk_repository_webhooks_repository_id_repositories"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_repository_webhooks")),
        sa.UniqueConstraint("repository_id", name=op.f("uq_repository_webhooks_repository_id")),
    )
    op.create_table(
        "user_repository_access",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("repository_id", sa.Uuid(), nullable=False),
        sa.Column("permission", sa.String(length=16), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint(
            "permission IN ('read', 'write', 'admin')", name=op.f("ck_user_repository_access_permission")
        ),
        sa.ForeignKeyConstraint(
            ["repository_id"],
            ["repositories.id"],
            name=op.f("fk_user_repository_access_repository_id_repositories"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_user_repository_access_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "repository_id", name=op.f("pk_user_repository_access")),
    )
    with op.batch_alter_table("user_repository_access", schema=None) as batch_op:
        batch_op.create_index(
            op.f("ix_user_repository_access_repository_id"), ["repository_id"], unique=False
        )

    op.create_table(
        "pull_request_comments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("pull_request_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("host_comment_id", sa.BigInteger(), nullable=True),
        sa.Column("author_login", sa.String(length=100), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("path", sa.String(length=4096), nullable=True),
        sa.Column("line", sa.Integer(), nullable=True),
        sa.Column("review_id", sa.BigInteger(), nullable=True),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("by_platform", sa.Boolean(), nullable=False),
        sa.Column("source_updated_at", UtcDateTime(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('review_comment', 'issue_comment')", name=op.f("ck_pull_request_comments_kind")
        ),
        sa.ForeignKeyConstraint(
            ["pull_request_id"],
            ["pull_requests.id"],
            name=op.f("fk_pull_request_comments_pull_request_id_pull_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pull_request_comments")),
        sa.UniqueConstraint(
            "kind", "host_comment_id", name=op.f("uq_pull_request_comments_kind_host_comment_id")
        ),
    )
    with op.batch_alter_table("pull_request_comments", schema=None) as batch_op:
        batch_op.create_index(
            op.f("ix_pull_request_comments_pull_request_id"), ["pull_request_id"], unique=False
        )

    op.create_table(
        "pull_request_reviews",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("pull_request_id", sa.Uuid(), nullable=False),
        sa.Column("host_review_id", sa.BigInteger(), nullable=True),
        sa.Column("author_login", sa.String(length=100), nullable=True),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("commit_sha", sa.String(length=64), nullable=True),
        sa.Column("submitted_at", UtcDateTime(), nullable=True),
        sa.Column("by_platform", sa.Boolean(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["pull_request_id"],
            ["pull_requests.id"],
            name=op.f("fk_pull_request_reviews_pull_request_id_pull_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pull_request_reviews")),
        sa.UniqueConstraint(
            "pull_request_id",
            "host_review_id",
            name=op.f("uq_pull_request_reviews_pull_request_id_host_review_id"),
        ),
    )


def downgrade() -> None:
    op.drop_table("pull_request_reviews")
    with op.batch_alter_table("pull_request_comments", schema=None) as batch_op:
        batch_op.drop_index(op.f("ix_pull_request_comments_pull_request_id"))

    op.drop_table("pull_request_comments")
    with op.batch_alter_table("user_repository_access", schema=None) as batch_op:
        batch_op.drop_index(op.f("ix_user_repository_access_repository_id"))

    op.drop_table("user_repository_access")
    op.drop_table("repository_webhooks")
    with op.batch_alter_table("repository_events", schema=None) as batch_op:
        batch_op.drop_index(op.f("ix_repository_events_processed_at"))

    op.drop_table("repository_events")
    op.drop_table("pull_requests")
    op.drop_table("repositories")
    op.drop_table("github_deliveries")
