"""Shared in-memory state with serializable transactions."""

from __future__ import annotations

import asyncio
import copy
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any
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
from asynccoder.domain.billing import (
    SEED_PACKAGES,
    SEED_PLANS,
    CreditAccount,
    CreditHold,
    CreditPackage,
    InvoiceRecord,
    LedgerEntry,
    Subscription,
    SubscriptionPlan,
    SubscriptionUsage,
)
from asynccoder.domain.code_hosting import (
    GitHubConnection,
    PullRequest,
    PullRequestComment,
    PullRequestReview,
    Repository,
    RepositoryAccess,
    RepositoryEvent,
    RepositoryWebhook,
)
from asynccoder.domain.identity import (
    OAuthState,
    PersonalAccessToken,
    RefreshToken,
    User,
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


def _plans() -> dict[UUID, SubscriptionPlan]:
    return {p.id: p for p in SEED_PLANS}


def _packages() -> dict[UUID, CreditPackage]:
    return {p.id: p for p in SEED_PACKAGES}


@dataclass
class BillingState:
    accounts: dict[UUID, CreditAccount] = field(default_factory=dict)
    entries: list[LedgerEntry] = field(default_factory=list)
    entry_keys: dict[tuple[UUID, str], LedgerEntry] = field(default_factory=dict)
    holds: dict[UUID, CreditHold] = field(default_factory=dict)
    plans: dict[UUID, SubscriptionPlan] = field(default_factory=_plans)
    packages: dict[UUID, CreditPackage] = field(default_factory=_packages)
    customers: dict[UUID, str] = field(default_factory=dict)
    subscriptions: dict[UUID, Subscription] = field(default_factory=dict)
    usage: dict[tuple[UUID, datetime], SubscriptionUsage] = field(default_factory=dict)
    invoices: dict[str, InvoiceRecord] = field(default_factory=dict)
    stripe_events: set[str] = field(default_factory=set)
    charge_refunds: dict[str, int] = field(default_factory=dict)  # Stripe charge id -> credits claimed


@dataclass
class CodeHostingState:
    """The part of ``MemoryState`` that holds code-hosting data."""

    repositories: dict[UUID, Repository] = field(default_factory=dict)
    access: dict[tuple[UUID, UUID], RepositoryAccess] = field(default_factory=dict)
    webhooks: dict[UUID, RepositoryWebhook] = field(default_factory=dict)  # by repository id
    pull_requests: dict[UUID, PullRequest] = field(default_factory=dict)
    reviews: dict[UUID, PullRequestReview] = field(default_factory=dict)
    comments: dict[UUID, PullRequestComment] = field(default_factory=dict)
    deliveries: dict[str, tuple[str, datetime]] = field(default_factory=dict)
    events: dict[UUID, RepositoryEvent] = field(default_factory=dict)


@dataclass
class MemoryState:
    """Everything the in-memory adapters store. Add a field per aggregate."""

    users: dict[UUID, User] = field(default_factory=dict)
    github_connections: dict[UUID, GitHubConnection] = field(default_factory=dict)
    refresh_tokens: dict[UUID, RefreshToken] = field(default_factory=dict)
    personal_access_tokens: dict[UUID, PersonalAccessToken] = field(default_factory=dict)
    oauth_states: dict[UUID, OAuthState] = field(default_factory=dict)
    ai_catalogue: AiCatalogueState = field(default_factory=AiCatalogueState)
    billing: BillingState = field(default_factory=BillingState)
    code_hosting: CodeHostingState = field(default_factory=CodeHostingState)
    extra: dict[str, Any] = field(default_factory=dict)


_LEAVES = (
    str,
    bytes,
    int,
    float,
    type(None),
    UUID,
    datetime,
    date,
    timedelta,
    Decimal,
    Enum,
    tuple,
    frozenset,
)


def _copy_containers(value: Any) -> Any:
    """A copy for rolling back: every mutable container (dicts, lists, sets, the non-frozen state dataclasses)
    is copied; rows are frozen dataclasses or plain values, never changed in place, so they are shared. A deep
    copy of the whole state cost ~3 ms per unit of work with only the seed data in it."""
    if isinstance(value, dict):
        return {key: _copy_containers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy_containers(item) for item in value]
    if isinstance(value, set):
        return set(value)  # members are hashable, so immutable
    if isinstance(value, _LEAVES):
        return value
    if is_dataclass(value) and not isinstance(value, type):
        if type(value).__dataclass_params__.frozen:  # type: ignore[attr-defined]
            return value
        duplicate = copy.copy(value)
        for item in fields(value):
            setattr(duplicate, item.name, _copy_containers(getattr(value, item.name)))
        return duplicate
    return copy.deepcopy(value)  # anything else: make no assumption


class InMemoryStore:
    """Holds a ``MemoryState``; transactions run one at a time (serializable) and roll back by snapshot."""

    def __init__(self) -> None:
        self.state = MemoryState()
        self.lock = asyncio.Lock()

    def snapshot(self) -> MemoryState:
        copied: MemoryState = _copy_containers(self.state)
        return copied

    def restore(self, snapshot: MemoryState) -> None:
        self.state = snapshot
