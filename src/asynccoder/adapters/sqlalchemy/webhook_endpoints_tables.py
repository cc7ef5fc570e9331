"""Outbound webhook tables: users' endpoints, the outbox of events, and one delivery per event and endpoint
(replays add deliveries)."""

from __future__ import annotations

import sqlalchemy as sa

from asynccoder.adapters.sqlalchemy.tables import UtcDateTime, metadata

webhook_endpoints = sa.Table(
    "webhook_endpoints",
    metadata,
    sa.Column("id", sa.Uuid(), primary_key=True),
    sa.Column("user_id", sa.Uuid(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("url", sa.String(2048), nullable=False),
    sa.Column("event_types", sa.JSON(), nullable=False),
    sa.Column("enabled", sa.Boolean(), nullable=False),
    sa.Column("description", sa.String(200), nullable=False),
    sa.Column("credits_low_threshold", sa.BigInteger(), nullable=True),
    sa.Column("sealed_secret", sa.Text(), nullable=False),
    sa.Column("sealed_previous_secret", sa.Text(), nullable=True),
    sa.Column("previous_secret_expires_at", UtcDateTime(), nullable=True),
    sa.Column("disabled_reason", sa.String(32), nullable=True),
    sa.Column("disabled_at", UtcDateTime(), nullable=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    sa.CheckConstraint(
        "credits_low_threshold IS NULL OR credits_low_threshold > 0", name="threshold_positive"
    ),
    sa.Index("ix_webhook_endpoints_user_id_id", "user_id", "id"),
)

webhook_events = sa.Table(
    "webhook_events",
    metadata,
    sa.Column("id", sa.Uuid(), primary_key=True),
    sa.Column("user_id", sa.Uuid(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("type", sa.String(40), nullable=False),
    sa.Column("body", sa.Text(), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
)

webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    sa.Column("id", sa.Uuid(), primary_key=True),
    sa.Column(
        "endpoint_id", sa.Uuid(), sa.ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("event_id", sa.Uuid(), sa.ForeignKey("webhook_events.id", ondelete="CASCADE"), nullable=False),
    sa.Column("event_type", sa.String(40), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("next_attempt_at", UtcDateTime(), nullable=True),
    sa.Column("attempts", sa.JSON(), nullable=False),
    sa.Column("claimed_by", sa.String(200), nullable=True),
    sa.Column("claimed_until", UtcDateTime(), nullable=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.CheckConstraint("status IN ('pending', 'succeeded', 'failed')", name="status"),
    sa.Index("ix_webhook_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
    sa.Index("ix_webhook_deliveries_endpoint_id_id", "endpoint_id", "id"),
)
