"""Builders for catalogue objects."""

from __future__ import annotations

from typing import Any

from asynccoder.domain.ai import ModelTier, Provider
from asynccoder.domain.ai_catalogue import (
    ApiKey,
    ApiKeyStatus,
    Capability,
    CatalogueModel,
    ModelPrice,
    ProviderConfig,
    TaskMode,
)
from tests.support.builders import T0, new_id


def make_config(provider: Provider = Provider.ANTHROPIC, **overrides: Any) -> ProviderConfig:
    values: dict[str, Any] = {
        "provider": provider,
        "display_name": provider.value.title(),
        "base_url": None,
        "enabled": True,
        "updated_at": T0,
    }
    values.update(overrides)
    return ProviderConfig(**values)


def make_model(**overrides: Any) -> CatalogueModel:
    values: dict[str, Any] = {
        "id": new_id(),
        "provider": Provider.ANTHROPIC,
        "model_name": f"model-{new_id().hex[:12]}",
        "display_name": "A model",
        "context_window": 200_000,
        "max_output_tokens": 64_000,
        "capabilities": frozenset(Capability),
        "tier": ModelTier.STANDARD,
        "enabled": True,
        "default_modes": frozenset[TaskMode](),
        "created_at": T0,
        "updated_at": T0,
    }
    values.update(overrides)
    return CatalogueModel(**values)


def make_price(model_id: Any, **overrides: Any) -> ModelPrice:
    values: dict[str, Any] = {
        "id": new_id(),
        "model_id": model_id,
        "effective_from": T0,
        "input_micro_usd_per_mtok": 3_000_000,
        "output_micro_usd_per_mtok": 15_000_000,
        "cache_read_micro_usd_per_mtok": 300_000,
        "cache_write_micro_usd_per_mtok": 3_750_000,
        "created_at": T0,
    }
    values.update(overrides)
    return ModelPrice(**values)


def make_api_key(user_id: Any, **overrides: Any) -> ApiKey:
    values: dict[str, Any] = {
        "id": new_id(),
        "user_id": user_id,
        "provider": Provider.ANTHROPIC,
        "label": "work",
        "last4": "abcd",
        "sealed_key": "v1.k1.sealed",
        "status": ApiKeyStatus.ACTIVE,
        "monthly_cap_credits": None,
        "created_at": T0,
        "updated_at": T0,
        "last_used_at": None,
    }
    values.update(overrides)
    return ApiKey(**values)
