"""ai catalogue: provider configs, models, effective-dated prices, BYOK keys, usage logs and daily stats

Revision ID: 0005_ai_catalogue
Revises: 0002_github_connections
Create Date: 2026-11-30

Seeds the catalogue with the providers' public list prices (standard rates, prompts <= 200k tokens, no batch
discount) as of 2025-11-24; admins change them by adding a new effective-dated price.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from uuid import UUID

import sqlalchemy as sa
from alembic import op

from asynccoder.adapters.sqlalchemy.tables import UtcDateTime

revision: str = "0005_ai_catalogue"
down_revision: str | Sequence[str] | None = "0002_github_connections"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LATENCY_COLUMNS = tuple(f"latency_b{i:02d}" for i in range(12))
SEEDED_AT = datetime(2025, 11, 24, tzinfo=UTC)
ALL_MODES = "architect,ask,debug,documentation,pr_review"
STANDARD_MODES = "architect,ask,debug,documentation,pr_review"

# (n, provider, model name, display name, context window, max output, tier, default modes,
#  input, output, cache read, cache write  -- USD per million tokens, as micro-USD)
SEED_MODELS = [
    (1, "anthropic", "claude-opus-4-5-20251101", "Claude Opus 4.5", 200_000, 64_000, "premium", "architect",
     5_000_000, 25_000_000, 500_000, 6_250_000),
    (2, "anthropic", "claude-sonnet-4-5-20250929", "Claude Sonnet 4.5", 200_000, 64_000, "standard",
     STANDARD_MODES, 3_000_000, 15_000_000, 300_000, 3_750_000),
    (3, "anthropic", "claude-haiku-4-5-20251001", "Claude Haiku 4.5", 200_000, 64_000, "economy", ALL_MODES,
     1_000_000, 5_000_000, 100_000, 1_250_000),
    # OpenAI bills no cache writes (cached input is cheaper; writing is plain input): write = input price.
    (4, "openai", "gpt-5", "GPT-5", 400_000, 128_000, "premium", "architect",
     1_250_000, 10_000_000, 125_000, 1_250_000),
    (5, "openai", "gpt-5-mini", "GPT-5 mini", 400_000, 128_000, "standard", STANDARD_MODES,
     250_000, 2_000_000, 25_000, 250_000),
    (6, "openai", "gpt-4.1-mini", "GPT-4.1 mini", 1_047_576, 32_768, "economy", ALL_MODES,
     400_000, 1_600_000, 100_000, 400_000),
    # Gemini bills cache storage per hour, not writes: write = input price.
    (7, "gemini", "gemini-2.5-pro", "Gemini 2.5 Pro", 1_048_576, 65_536, "premium", "architect",
     1_250_000, 10_000_000, 125_000, 1_250_000),
    (8, "gemini", "gemini-2.5-flash", "Gemini 2.5 Flash", 1_048_576, 65_536, "standard", STANDARD_MODES,
     300_000, 2_500_000, 30_000, 300_000),
    (9, "gemini", "gemini-2.5-flash-lite", "Gemini 2.5 Flash-Lite", 1_048_576, 65_536, "economy", ALL_MODES,
     100_000, 400_000, 10_000, 100_000),
]  # fmt: skip


def _seed_id(n: int) -> UUID:
    return UUID(f"0193a000-0000-7000-8000-{n:012x}")


def upgrade() -> None:
    providers = op.create_table(
        "ai_provider_configs",
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("display_name", sa.String(100), nullable=False),
        sa.Column("base_url", sa.String(500), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("provider", name=op.f("pk_ai_provider_configs")),
    )
    models = op.create_table(
        "ai_models",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("provider", sa.String(32), nullable=False),
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
        sa.CheckConstraint("tier IN ('economy', 'standard', 'premium')", name=op.f("ck_ai_models_tier")),
        sa.ForeignKeyConstraint(
            ["provider"],
            ["ai_provider_configs.provider"],
            name=op.f("fk_ai_models_provider_ai_provider_configs"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ai_models")),
        sa.UniqueConstraint("provider", "model_name", name=op.f("uq_ai_models_provider_model_name")),
    )
    prices = op.create_table(
        "ai_model_prices",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("model_id", sa.Uuid(), nullable=False),
        sa.Column("effective_from", UtcDateTime(), nullable=False),
        sa.Column("input_micro_usd_per_mtok", sa.BigInteger(), nullable=False),
        sa.Column("output_micro_usd_per_mtok", sa.BigInteger(), nullable=False),
        sa.Column("cache_read_micro_usd_per_mtok", sa.BigInteger(), nullable=False),
        sa.Column("cache_write_micro_usd_per_mtok", sa.BigInteger(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["ai_models.id"],
            name=op.f("fk_ai_model_prices_model_id_ai_models"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ai_model_prices")),
        sa.UniqueConstraint(
            "model_id", "effective_from", name=op.f("uq_ai_model_prices_model_id_effective_from")
        ),
    )
    key_providers = op.create_table(
        "api_key_providers",
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("display_name", sa.String(100), nullable=False),
        sa.Column("key_hint", sa.String(32), nullable=True),
        sa.PrimaryKeyConstraint("provider", name=op.f("pk_api_key_providers")),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("label", sa.String(100), nullable=False),
        sa.Column("last4", sa.String(4), nullable=False),
        sa.Column("sealed_key", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("monthly_cap_credits", sa.BigInteger(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("last_used_at", UtcDateTime(), nullable=True),
        sa.CheckConstraint("status IN ('active', 'invalid')", name=op.f("ck_api_keys_status")),
        sa.ForeignKeyConstraint(
            ["provider"], ["api_key_providers.provider"], name=op.f("fk_api_keys_provider_api_key_providers")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_api_keys_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("user_id", "provider", name=op.f("uq_api_keys_user_id_provider")),
    )
    op.create_table(
        "api_key_usage_logs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("model_id", sa.Uuid(), nullable=False),
        sa.Column("api_key_id", sa.Uuid(), nullable=True),
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
        sa.ForeignKeyConstraint(
            ["api_key_id"],
            ["api_keys.id"],
            name=op.f("fk_api_key_usage_logs_api_key_id_api_keys"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["model_id"], ["ai_models.id"], name=op.f("fk_api_key_usage_logs_model_id_ai_models")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_api_key_usage_logs_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_key_usage_logs")),
    )
    op.create_index("ix_api_key_usage_logs_user_id_at", "api_key_usage_logs", ["user_id", "at"])
    op.create_index("ix_api_key_usage_logs_api_key_id_at", "api_key_usage_logs", ["api_key_id", "at"])
    op.create_index("ix_api_key_usage_logs_model_id", "api_key_usage_logs", ["model_id"])
    op.create_table(
        "model_usage_stats",
        sa.Column("model_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("calls", sa.BigInteger(), nullable=False),
        sa.Column("errors", sa.BigInteger(), nullable=False),
        sa.Column("input_tokens", sa.BigInteger(), nullable=False),
        sa.Column("output_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cache_read_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cache_write_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cost_credits", sa.BigInteger(), nullable=False),
        *(sa.Column(name, sa.BigInteger(), nullable=False) for name in LATENCY_COLUMNS),
        sa.ForeignKeyConstraint(
            ["model_id"], ["ai_models.id"], name=op.f("fk_model_usage_stats_model_id_ai_models")
        ),
        sa.PrimaryKeyConstraint("model_id", "day", name=op.f("pk_model_usage_stats")),
    )

    op.bulk_insert(
        providers,
        [
            {"provider": p, "display_name": name, "base_url": None, "enabled": True, "updated_at": SEEDED_AT}
            for p, name in (("anthropic", "Anthropic"), ("openai", "OpenAI"), ("gemini", "Google Gemini"))
        ],
    )
    op.bulk_insert(
        key_providers,
        [
            {"provider": "anthropic", "display_name": "Anthropic", "key_hint": "sk-ant-"},
            {"provider": "openai", "display_name": "OpenAI", "key_hint": "sk-"},
            {"provider": "gemini", "display_name": "Google Gemini", "key_hint": "AIza"},
        ],
    )
    op.bulk_insert(
        models,
        [
            {
                "id": _seed_id(n),
                "provider": provider,
                "model_name": model_name,
                "display_name": display_name,
                "context_window": context_window,
                "max_output_tokens": max_output,
                "supports_tools": True,
                "supports_vision": True,
                "supports_streaming": True,
                "tier": tier,
                "enabled": True,
                "default_modes": modes,
                "created_at": SEEDED_AT,
                "updated_at": SEEDED_AT,
            }
            for n, provider, model_name, display_name, context_window, max_output, tier, modes, *_ in (
                SEED_MODELS
            )
        ],
    )
    op.bulk_insert(
        prices,
        [
            {
                "id": _seed_id(0x100 + n),
                "model_id": _seed_id(n),
                "effective_from": SEEDED_AT,
                "input_micro_usd_per_mtok": inp,
                "output_micro_usd_per_mtok": out,
                "cache_read_micro_usd_per_mtok": cache_read,
                "cache_write_micro_usd_per_mtok": cache_write,
                "created_at": SEEDED_AT,
            }
            for n, *_, inp, out, cache_read, cache_write in SEED_MODELS
        ],
    )


def downgrade() -> None:
    op.drop_table("model_usage_stats")
    op.drop_index("ix_api_key_usage_logs_model_id", table_name="api_key_usage_logs")
    op.drop_index("ix_api_key_usage_logs_api_key_id_at", table_name="api_key_usage_logs")
    op.drop_index("ix_api_key_usage_logs_user_id_at", table_name="api_key_usage_logs")
    op.drop_table("api_key_usage_logs")
    op.drop_table("api_keys")
    op.drop_table("api_key_providers")
    op.drop_table("ai_model_prices")
    op.drop_table("ai_models")
    op.drop_table("ai_provider_configs")
