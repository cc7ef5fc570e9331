"""Tables of the model catalogue, users' own provider keys and model usage."""

from __future__ import annotations

import sqlalchemy as sa

from asynccoder.adapters.sqlalchemy.tables import UtcDateTime, metadata
from asynccoder.domain.ai_catalogue import LATENCY_BUCKET_COUNT

LATENCY_COLUMNS = tuple(f"latency_b{i:02d}" for i in range(LATENCY_BUCKET_COUNT))

ai_provider_configs = sa.Table(
    "ai_provider_configs",
    metadata,
    sa.Column("provider", sa.String(32), primary_key=True),
    sa.Column("display_name", sa.String(100), nullable=False),
    sa.Column("base_url", sa.String(500), nullable=True),
    sa.Column("enabled", sa.Boolean(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
)

ai_models = sa.Table(
    "ai_models",
    metadata,
    sa.Column("id", sa.Uuid(), primary_key=True),
    sa.Column("provider", sa.String(32), sa.ForeignKey("ai_provider_configs.provider"), nullable=False),
    sa.Column("model_name", sa.String(200), nullable=False),
    sa.Column("display_name", sa.String(200), nullable=False),
    sa.Column("context_window", sa.Integer(), nullable=False),
    sa.Column("max_output_tokens", sa.Integer(), nullable=False),
    sa.Column("supports_tools", sa.Boolean(), nullable=False),
    sa.Column("supports_vision", sa.Boolean(), nullable=False),
    sa.Column("supports_streaming", sa.Boolean(), nullable=False),
    sa.Column("tier", sa.String(16), nullable=False),
    sa.Column("enabled", sa.Boolean(), nullable=False),
    sa.Column("default_modes", sa.String(200), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    # Lifecycle (migration 0008): UTC days; the replacement is another catalogue model.
    sa.Column("deprecated_on", sa.Date(), nullable=True),
    sa.Column("retires_on", sa.Date(), nullable=True),
    # No ON DELETE action: SQLite's reflection cannot see one on a column added later, and the repository
    # clears references itself before deleting a model.
    sa.Column("replacement_model_id", sa.Uuid(), sa.ForeignKey("ai_models.id"), nullable=True),
    sa.UniqueConstraint("provider", "model_name"),
    sa.CheckConstraint("tier IN ('economy', 'standard', 'premium')", name="tier"),
    sa.CheckConstraint(
        "retires_on IS NULL OR deprecated_on IS NULL OR retires_on >= deprecated_on", name="lifecycle_order"
    ),
    sa.CheckConstraint(
        "replacement_model_id IS NULL OR replacement_model_id <> id", name="replacement_not_self"
    ),
)

ai_model_prices = sa.Table(
    "ai_model_prices",
    metadata,
    sa.Column("id", sa.Uuid(), primary_key=True),
    sa.Column("model_id", sa.Uuid(), sa.ForeignKey("ai_models.id", ondelete="CASCADE"), nullable=False),
    sa.Column("effective_from", UtcDateTime(), nullable=False),
    sa.Column("input_micro_usd_per_mtok", sa.BigInteger(), nullable=False),
    sa.Column("output_micro_usd_per_mtok", sa.BigInteger(), nullable=False),
    sa.Column("cache_read_micro_usd_per_mtok", sa.BigInteger(), nullable=False),
    sa.Column("cache_write_micro_usd_per_mtok", sa.BigInteger(), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.UniqueConstraint("model_id", "effective_from"),
)

api_key_providers = sa.Table(
    "api_key_providers",
    metadata,
    sa.Column("provider", sa.String(32), primary_key=True),
    sa.Column("display_name", sa.String(100), nullable=False),
    sa.Column("key_hint", sa.String(32), nullable=True),
    # Seeded by the migration and never written by the app: test cleanup keeps it.
    info={"reference_data": True},
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.Uuid(), primary_key=True),
    sa.Column("user_id", sa.Uuid(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("provider", sa.String(32), sa.ForeignKey("api_key_providers.provider"), nullable=False),
    sa.Column("label", sa.String(100), nullable=False),
    sa.Column("last4", sa.String(4), nullable=False),
    sa.Column("sealed_key", sa.Text(), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("monthly_cap_credits", sa.BigInteger(), nullable=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    sa.Column("last_used_at", UtcDateTime(), nullable=True),
    sa.UniqueConstraint("user_id", "provider"),
    sa.CheckConstraint("status IN ('active', 'invalid')", name="status"),
)

api_key_usage_logs = sa.Table(
    "api_key_usage_logs",
    metadata,
    sa.Column("id", sa.Uuid(), primary_key=True),
    sa.Column("user_id", sa.Uuid(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("model_id", sa.Uuid(), sa.ForeignKey("ai_models.id"), nullable=False),
    sa.Column("api_key_id", sa.Uuid(), sa.ForeignKey("api_keys.id", ondelete="SET NULL"), nullable=True),
    sa.Column("key_source", sa.String(16), nullable=False),
    sa.Column("answered_model", sa.String(200), nullable=False),
    sa.Column("input_tokens", sa.BigInteger(), nullable=False),
    sa.Column("output_tokens", sa.BigInteger(), nullable=False),
    sa.Column("cache_read_tokens", sa.BigInteger(), nullable=False),
    sa.Column("cache_write_tokens", sa.BigInteger(), nullable=False),
    sa.Column("cost_credits", sa.BigInteger(), nullable=False),
    sa.Column("charged_credits", sa.BigInteger(), nullable=False),
    sa.Column("latency_ms", sa.Integer(), nullable=False),
    sa.Column("outcome", sa.String(32), nullable=False),
    sa.Column("at", UtcDateTime(), nullable=False),
    sa.Index("ix_api_key_usage_logs_user_id_at", "user_id", "at"),
    sa.Index("ix_api_key_usage_logs_api_key_id_at", "api_key_id", "at"),
    sa.Index("ix_api_key_usage_logs_model_id", "model_id"),
)

model_usage_stats = sa.Table(
    "model_usage_stats",
    metadata,
    sa.Column("model_id", sa.Uuid(), sa.ForeignKey("ai_models.id"), primary_key=True),
    sa.Column("day", sa.Date(), primary_key=True),
    sa.Column("calls", sa.BigInteger(), nullable=False),
    sa.Column("errors", sa.BigInteger(), nullable=False),
    sa.Column("input_tokens", sa.BigInteger(), nullable=False),
    sa.Column("output_tokens", sa.BigInteger(), nullable=False),
    sa.Column("cache_read_tokens", sa.BigInteger(), nullable=False),
    sa.Column("cache_write_tokens", sa.BigInteger(), nullable=False),
    sa.Column("cost_credits", sa.BigInteger(), nullable=False),
    *(sa.Column(name, sa.BigInteger(), nullable=False) for name in LATENCY_COLUMNS),
)
