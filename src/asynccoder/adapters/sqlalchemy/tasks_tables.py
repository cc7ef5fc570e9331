"""Task tables: tasks (the source of truth users see), their per-user active slots and per-repository writing
locks, per-call usage, and the per-task event log."""

from __future__ import annotations

import sqlalchemy as sa

from asynccoder.adapters.sqlalchemy.tables import UtcDateTime, metadata

TASK_STATUSES = "('queued', 'running', 'succeeded', 'failed', 'cancelled')"
TASK_MODES = "('ask', 'debug', 'documentation', 'architect', 'pr_review')"

tasks = sa.Table(
    "tasks",
    metadata,
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
    sa.Column("platform_fee_credits", sa.BigInteger(), nullable=True),
    sa.Column("last_event_seq", sa.BigInteger(), nullable=False),
    sa.UniqueConstraint("user_id", "idempotency_key"),
    sa.CheckConstraint(f"status IN {TASK_STATUSES}", name="status"),
    sa.CheckConstraint(f"mode IN {TASK_MODES}", name="mode"),
    sa.CheckConstraint("budget_cap_credits > 0", name="budget_positive"),
    sa.CheckConstraint("attempt >= 0 AND attempt <= max_attempts", name="attempts"),
    sa.Index("ix_tasks_status_not_before", "status", "not_before"),
    sa.Index("ix_tasks_user_id_id", "user_id", "id"),
)

task_user_slots = sa.Table(
    "task_user_slots",
    metadata,
    sa.Column("user_id", sa.Uuid(), sa.ForeignKey("users.id"), primary_key=True),
    sa.Column("active", sa.Integer(), nullable=False),
    sa.CheckConstraint("active >= 0", name="active_non_negative"),
)

task_repository_locks = sa.Table(
    "task_repository_locks",
    metadata,
    sa.Column("repository_id", sa.Uuid(), sa.ForeignKey("repositories.id"), primary_key=True),
    sa.Column("task_id", sa.Uuid(), sa.ForeignKey("tasks.id"), nullable=False),
    sa.Column("locked_at", UtcDateTime(), nullable=False),
)

task_usage = sa.Table(
    "task_usage",
    metadata,
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
    sa.Index("ix_task_usage_task_id", "task_id"),
    sa.Index("ix_task_usage_user_id_created_at", "user_id", "created_at"),
)

task_events = sa.Table(
    "task_events",
    metadata,
    sa.Column("task_id", sa.Uuid(), sa.ForeignKey("tasks.id"), primary_key=True),
    sa.Column("seq", sa.BigInteger(), primary_key=True),
    sa.Column("type", sa.String(16), nullable=False),
    sa.Column("data", sa.JSON(), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.CheckConstraint("type IN ('status', 'log', 'usage', 'result')", name="type"),
)
