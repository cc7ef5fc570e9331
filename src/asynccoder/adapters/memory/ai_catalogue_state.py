"""In-memory state of the model catalogue, users' own keys and usage (a field of ``MemoryState``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from uuid import UUID

from asynccoder.domain.ai import Provider
from asynccoder.domain.ai_catalogue import (
    ApiKey,
    ApiKeyProviderInfo,
    CatalogueModel,
    DailyModelUsage,
    ModelPrice,
    ProviderConfig,
    UsageLogEntry,
)

# Reference data, as the migration seeds it into ``api_key_providers``.
KEY_PROVIDERS: tuple[ApiKeyProviderInfo, ...] = (
    ApiKeyProviderInfo(Provider.ANTHROPIC, "Anthropic", "sk-ant-"),
    ApiKeyProviderInfo(Provider.OPENAI, "OpenAI", "sk-"),
    ApiKeyProviderInfo(Provider.GEMINI, "Google Gemini", "AIza"),
)


@dataclass
class AiCatalogueState:
    provider_configs: dict[Provider, ProviderConfig] = field(default_factory=dict)
    models: dict[UUID, CatalogueModel] = field(default_factory=dict)
    prices: dict[UUID, ModelPrice] = field(default_factory=dict)
    key_providers: tuple[ApiKeyProviderInfo, ...] = KEY_PROVIDERS
    api_keys: dict[UUID, ApiKey] = field(default_factory=dict)
    usage_logs: list[UsageLogEntry] = field(default_factory=list)
    daily_stats: dict[tuple[UUID, date], DailyModelUsage] = field(default_factory=dict)
