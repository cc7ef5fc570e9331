"""tasks, per-user active slots, per-repository writing locks, task usage, task events

Revision ID: 0009_tasks
Revises: 0008_model_lifecycle
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from asynccoder.adapters.sqlalchemy.tables import UtcDateTime

revision: str = "0009_tasks"
down_revision: str | Sequence[str] | None = "0008_model_lifecycle"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TASK_STATUSES = "('queued', 'running', 'succeeded', 'failed', 'cancelled')"
TASK_MODES = "('ask', 'debug', 'documentation', 'architect', 'pr_review')"


def upgrade() -> None:
    op.create_table(
        "tasks",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("user_id", sa.Uuid(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("repository_id", sa.Uuid(), sa.ForeignKey("repositories.id"), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("writes", sa.Boolean(), nullable=False),
        sa.Column("instructions", sa.Text(), nullable=False),
        sa.Column("base_branch", sa.String(255), nullable=True),
        sa.Column("pull_request_number", sa.Integer(), nullable=True),
        sa.Column("model_id", sa.Uuid(), nullable=True),
        sa.Column("budget_cap_credits", sa.BigInteger(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("priority_class", sa.Integer(), nullable=False),
        sa.Column("concurrency_limit", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("failure_reason", sa.String(32), nullable=True),
        sa.Column("failure_message", sa.String(2000), nullable=True),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("hold_id", sa.Uuid(), nullable=True),
        sa.Column("worker_id", sa.String(200), nullable=True),
        sa.Column("heartbeat_at", UtcDateTime(), nullable=True),
        sa.Column("not_before", UtcDateTime(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("started_at", UtcDateTime(), nullable=True),
        sa.Column("finished_at", UtcDateTime(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("settled_credits", sa.BigInteger(), nullable=True),
        sa.Column("charge_waived", sa.Boolean(), nullable=False),
        sa.Column("idempotency_key", sa.String(200), nullable=True),
        sa.Column("request_fingerprint", sa.String(64), nullable=True),
        sa.Column("last_event_seq", sa.BigInteger(), nullable=False),
        sa.UniqueConstraint("user_id", "idempotency_key"),
        sa.CheckConstraint(f"status IN {TASK_STATUSES}", name="status"),
        sa.CheckConstraint(f"mode IN {TASK_MODES}", name="mode"),
        sa.CheckConstraint("budget_cap_credits > 0", name="budget_positive"),
        sa.CheckConstraint("attempt >= 0 AND attempt <= max_attempts", name="attempts"),
    )
    op.create_index("ix_tasks_status_not_before", "tasks", ["status", "not_before"])
    op.create_index("ix_tasks_user_id_id", "tasks", ["user_id", "id"])
    op.create_table(
        "task_user_slots",
        sa.Column("user_id", sa.Uuid(), sa.ForeignKey("users.id"), primary_key=True),
        sa.Column("active", sa.Integer(), nullable=False),
        sa.CheckConstraint("active >= 0", name="active_non_negative"),
    )
    op.create_table(
        "task_repository_locks",
        sa.Column("repository_id", sa.Uuid(), sa.ForeignKey("repositories.id"), primary_key=True),
        sa.Column("task_id", sa.Uuid(), sa.ForeignKey("tasks.id"), nullable=False),
        sa.Column("locked_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "task_usage",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("task_id", sa.Uuid(), sa.ForeignKey("tasks.id"), nullable=False),
        sa.Column("user_id", sa.Uuid(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.Uuid(), nullable=False),
        sa.Column("answered_model", sa.String(200), nullable=False),
        sa.Column("key_source", sa.String(16), nullable=False),
        sa.Column("input_tokens", sa.BigInteger(), nullable=False),
        sa.Column("output_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cache_read_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cache_write_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cost_credits", sa.BigInteger(), nullable=False),
        sa.Column("charged_credits", sa.BigInteger(), nullable=False),
        sa.Column("price_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint("key_source IN ('byok', 'platform')", name="key_source"),
        sa.CheckConstraint("charged_credits >= 0 AND cost_credits >= 0", name="credits_non_negative"),
    )
    op.create_index("ix_task_usage_task_id", "task_usage", ["task_id"])
    op.create_index("ix_task_usage_user_id_created_at", "task_usage", ["user_id", "created_at"])
    op.create_table(
        "task_events",
        sa.Column("task_id", sa.Uuid(), sa.ForeignKey("tasks.id"), primary_key=True),
        sa.Column("seq", sa.BigInteger(), primary_key=True),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint("type IN ('status', 'log', 'usage', 'result')", name="type"),
    )


def downgrade() -> None:
    op.drop_table("task_events")
    op.drop_table("task_usage")
    op.drop_table("task_repository_locks")
    op.drop_table("task_user_slots")
    op.drop_table("tasks")
