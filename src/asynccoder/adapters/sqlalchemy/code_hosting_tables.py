"""Tables for connected repositories, webhooks, pull requests, reviews, comments and webhook deliveries."""

from __future__ import annotations

import sqlalchemy as sa

from asynccoder.adapters.sqlalchemy.tables import UtcDateTime, metadata

repositories = sa.Table(
    "repositories",
    metadata,
    sa.Column("id", sa.Uuid(), primary_key=True),
    sa.Column("host", sa.String(16), nullable=False),
    sa.Column("host_id", sa.BigInteger(), nullable=True),
    sa.Column("full_name", sa.String(140), nullable=False),
    sa.Column("default_branch", sa.String(255), nullable=False),
    sa.Column("visibility", sa.String(16), nullable=False),
    sa.Column("html_url", sa.String(2048), nullable=True),
    sa.Column("clone_url", sa.String(2048), nullable=False),
    sa.Column("auto_review", sa.Boolean(), nullable=False),
    sa.Column("default_model_id", sa.Uuid(), nullable=True),
    sa.Column("default_base_branch", sa.String(255), nullable=True),
    sa.Column("test_command", sa.String(500), nullable=True),
    sa.Column("head_sha", sa.String(64), nullable=True),
    sa.Column("last_pushed_at", UtcDateTime(), nullable=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    sa.UniqueConstraint("host", "host_id"),
    sa.UniqueConstraint("host", "full_name"),
    sa.CheckConstraint("visibility IN ('public', 'private', 'internal')", name="visibility"),
)

user_repository_access = sa.Table(
    "user_repository_access",
    metadata,
    sa.Column("user_id", sa.Uuid(), sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    sa.Column(
        "repository_id", sa.Uuid(), sa.ForeignKey("repositories.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("permission", sa.String(16), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    sa.CheckConstraint("permission IN ('read', 'write', 'admin')", name="permission"),
    sa.Index("ix_user_repository_access_repository_id", "repository_id"),
)

repository_webhooks = sa.Table(
    "repository_webhooks",
    metadata,
    sa.Column("id", sa.Uuid(), primary_key=True),
    sa.Column(
        "repository_id", sa.Uuid(), sa.ForeignKey("repositories.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("host_hook_id", sa.BigInteger(), nullable=True),
    sa.Column("sealed_secret", sa.Text(), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.UniqueConstraint("repository_id"),
)

pull_requests = sa.Table(
    "pull_requests",
    metadata,
    sa.Column("id", sa.Uuid(), primary_key=True),
    sa.Column(
        "repository_id", sa.Uuid(), sa.ForeignKey("repositories.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("number", sa.BigInteger(), nullable=False),
    sa.Column("title", sa.String(1024), nullable=False),
    sa.Column("body", sa.Text(), nullable=True),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("author_login", sa.String(100), nullable=True),
    sa.Column("head_ref", sa.String(255), nullable=False),
    sa.Column("head_sha", sa.String(64), nullable=True),
    sa.Column("base_ref", sa.String(255), nullable=False),
    sa.Column("html_url", sa.String(2048), nullable=True),
    sa.Column("draft", sa.Boolean(), nullable=False),
    sa.Column("opened_by_platform", sa.Boolean(), nullable=False),
    sa.Column("merged_at", UtcDateTime(), nullable=True),
    sa.Column("closed_at", UtcDateTime(), nullable=True),
    sa.Column("source_updated_at", UtcDateTime(), nullable=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    sa.UniqueConstraint("repository_id", "number"),
    sa.CheckConstraint("state IN ('open', 'closed', 'merged')", name="state"),
)

pull_request_reviews = sa.Table(
    "pull_request_reviews",
    metadata,
    sa.Column("id", sa.Uuid(), primary_key=True),
    sa.Column(
        "pull_request_id", sa.Uuid(), sa.ForeignKey("pull_requests.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("host_review_id", sa.BigInteger(), nullable=True),
    sa.Column("author_login", sa.String(100), nullable=True),
    sa.Column("state", sa.String(32), nullable=False),
    sa.Column("body", sa.Text(), nullable=True),
    sa.Column("commit_sha", sa.String(64), nullable=True),
    sa.Column("submitted_at", UtcDateTime(), nullable=True),
    sa.Column("by_platform", sa.Boolean(), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    sa.UniqueConstraint("pull_request_id", "host_review_id"),
)

pull_request_comments = sa.Table(
    "pull_request_comments",
    metadata,
    sa.Column("id", sa.Uuid(), primary_key=True),
    sa.Column(
        "pull_request_id", sa.Uuid(), sa.ForeignKey("pull_requests.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("host_comment_id", sa.BigInteger(), nullable=True),
    sa.Column("author_login", sa.String(100), nullable=True),
    sa.Column("body", sa.Text(), nullable=False),
    sa.Column("path", sa.String(4096), nullable=True),
    sa.Column("line", sa.Integer(), nullable=True),
    sa.Column("side", sa.String(5), nullable=True),
    sa.Column("start_line", sa.Integer(), nullable=True),
    sa.Column("review_id", sa.BigInteger(), nullable=True),
    sa.Column("deleted", sa.Boolean(), nullable=False),
    sa.Column("by_platform", sa.Boolean(), nullable=False),
    sa.Column("source_updated_at", UtcDateTime(), nullable=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    sa.UniqueConstraint("kind", "host_comment_id"),
    sa.CheckConstraint("kind IN ('review_comment', 'issue_comment')", name="kind"),
    sa.CheckConstraint("side IN ('RIGHT', 'LEFT')", name="side"),
    sa.Index("ix_pull_request_comments_pull_request_id", "pull_request_id"),
)

github_deliveries = sa.Table(
    "github_deliveries",
    metadata,
    sa.Column("delivery_id", sa.String(100), primary_key=True),
    sa.Column("event", sa.String(64), nullable=False),
    sa.Column("received_at", UtcDateTime(), nullable=False),
    sa.Index("ix_github_deliveries_received_at", "received_at"),  # retention deletes by age
)

repository_events = sa.Table(
    "repository_events",
    metadata,
    sa.Column("id", sa.Uuid(), primary_key=True),
    sa.Column(
        "repository_id", sa.Uuid(), sa.ForeignKey("repositories.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("pull_request_id", sa.Uuid(), nullable=True),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("payload", sa.JSON(), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("processed_at", UtcDateTime(), nullable=True),
    sa.Index("ix_repository_events_processed_at", "processed_at"),
)
