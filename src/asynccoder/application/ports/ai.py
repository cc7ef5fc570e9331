"""Ports of AI: language models, the model catalogue, users' own keys, usage, platform keys, tiers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol
from uuid import UUID

from asynccoder.domain.ai import ChatRequest, ChatResponse, ModelRef, ModelTier, Provider, StreamEvent
from asynccoder.domain.ai_catalogue import (
    ApiKey,
    ApiKeyProviderInfo,
    Capability,
    CatalogueModel,
    DailyModelUsage,
    ModelPrice,
    ProviderConfig,
    UsageLogEntry,
    UserDailyUsage,
)


class ChatModel(Protocol):
    """One provider's chat API.

    ``complete`` returns the whole turn; ``stream`` yields ``TextDelta``s then exactly one ``StreamDone``.
    Both retry transient failures (429 honouring ``retry-after``, 529/503, timeouts) with backoff up to the
    adapter's limit, then raise a ``ProviderError`` subclass from ``asynccoder.domain.ai``.
    """

    async def complete(self, request: ChatRequest) -> ChatResponse: ...

    def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]: ...


class ChatModelFactory(Protocol):
    """Builds a ``ChatModel`` for a model reference and the API key to use (the user's own or the platform's).

    The key is used for the calls only: never logged, never part of an error.
    """

    def create(self, ref: ModelRef, *, api_key: str) -> ChatModel: ...


@dataclass(frozen=True, slots=True)
class ModelFilter:
    provider: Provider | None = None
    tier: ModelTier | None = None
    capability: Capability | None = None
    enabled_only: bool = True


class ModelCatalogueRepository(Protocol):
    """Provider configs, models and their effective-dated prices.

    ``add_model`` raises ``Conflict`` (``model_exists``) for a second (provider, model_name); ``add_price``
    raises ``Conflict`` (``price_exists``) for a second price of one model at the same ``effective_from``.
    ``list_models`` returns newest first (by id), only ids below ``before`` when given.
    """

    async def list_provider_configs(self) -> list[ProviderConfig]: ...

    async def get_provider_config(self, provider: Provider) -> ProviderConfig | None: ...

    async def save_provider_config(self, config: ProviderConfig) -> None: ...

    async def add_model(self, model: CatalogueModel) -> None: ...

    async def update_model(self, model: CatalogueModel) -> None: ...

    async def delete_model(self, model_id: UUID) -> bool: ...

    async def get_model(self, model_id: UUID) -> CatalogueModel | None: ...

    async def list_models(
        self, model_filter: ModelFilter, *, limit: int | None = None, before: UUID | None = None
    ) -> list[CatalogueModel]: ...

    async def add_price(self, price: ModelPrice) -> None: ...

    async def list_prices(self, model_id: UUID) -> list[ModelPrice]: ...

    async def prices_at(self, model_ids: Sequence[UUID], moment: datetime) -> dict[UUID, ModelPrice]: ...


class ApiKeyRepository(Protocol):
    """Users' own provider keys: at most one per (user, provider) (``add`` raises ``Conflict`` with code
    ``api_key_exists`` otherwise). Lists are newest first."""

    async def list_key_providers(self) -> list[ApiKeyProviderInfo]: ...

    async def add(self, key: ApiKey) -> None: ...

    async def update(self, key: ApiKey) -> None: ...

    async def delete(self, key_id: UUID) -> bool: ...

    async def get(self, key_id: UUID) -> ApiKey | None: ...

    async def get_for_provider(self, user_id: UUID, provider: Provider) -> ApiKey | None: ...

    async def list_for_user(
        self, user_id: UUID, *, limit: int | None = None, before: UUID | None = None
    ) -> list[ApiKey]: ...


class ModelUsageRepository(Protocol):
    """Usage log rows and per-model daily aggregates.

    ``record`` appends the log row and adds it to the (model, day) aggregate in one atomic statement each, so
    concurrent records never lose an update.
    """

    async def record(self, entry: UsageLogEntry) -> None: ...

    async def spent_on_key_since(self, api_key_id: UUID, since: datetime) -> int: ...

    async def model_has_usage(self, model_id: UUID) -> bool: ...

    async def daily_stats(
        self, *, start: date, end: date, model_id: UUID | None = None
    ) -> list[DailyModelUsage]: ...

    async def user_daily_usage(self, user_id: UUID, *, start: date, end: date) -> list[UserDailyUsage]: ...


class PlatformKeys(Protocol):
    """The platform's own provider keys (from configuration); ``None`` when a provider has none."""

    def key_for(self, provider: Provider) -> str | None: ...


class TierEntitlements(Protocol):
    """Which model tiers a user's plan allows (billing owns the answer)."""

    async def allowed_tiers(self, user_id: UUID) -> frozenset[ModelTier]: ...


class TrialCharges(Protocol):
    """Pays for a model test made on the platform key out of the user's credits (billing owns the ledger).

    ``reserve`` holds ``amount`` credits (``InsufficientCredits`` when they are not available) and returns the
    hold's id; ``settle`` spends ``amount`` (at most what was held) and releases the rest, or releases the
    whole hold when ``amount`` is 0. Each opens its own unit of work."""

    async def reserve(self, user_id: UUID, amount: int, reference: str) -> UUID: ...

    async def settle(self, user_id: UUID, hold_id: UUID, amount: int) -> None: ...
