"""The model catalogue, effective-dated prices, the pricing rule, users' own provider keys and usage records.

Prices are integer micro-USD per million tokens. A price change inserts a new ``ModelPrice`` with a later
``effective_from``; the price at time ``t`` is the latest row with ``effective_from <= t``, so history is
never rewritten and a recorded call keeps the cost it was charged.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from uuid import UUID

from asynccoder.domain.ai import ModelRef, ModelTier, Provider, Usage
from asynccoder.domain.billing import MICRO_USD_PER_CREDIT
from asynccoder.domain.errors import FieldProblem, InvalidInput

TOKENS_PER_PRICE_UNIT = 1_000_000
# One credit in "token x micro-USD-per-million" units: the divisor of the pricing rule.
_CREDIT_DENOMINATOR = TOKENS_PER_PRICE_UNIT * MICRO_USD_PER_CREDIT

TIER_RANK: dict[ModelTier, int] = {ModelTier.ECONOMY: 0, ModelTier.STANDARD: 1, ModelTier.PREMIUM: 2}
# Tie-break between providers when everything else is equal (stable, documented ordering).
PROVIDER_ORDER: dict[Provider, int] = {
    Provider.ANTHROPIC: 0,
    Provider.OPENAI: 1,
    Provider.GEMINI: 2,
    Provider.OPENAI_COMPATIBLE: 3,
}


class TaskMode(enum.StrEnum):
    ASK = "ask"
    DEBUG = "debug"
    DOCUMENTATION = "documentation"
    ARCHITECT = "architect"
    PR_REVIEW = "pr_review"


class Capability(enum.StrEnum):
    TOOLS = "tools"
    VISION = "vision"
    STREAMING = "streaming"


class KeySource(enum.StrEnum):
    """Whose provider key pays for a call: the user's own (``byok``) or the platform's."""

    BYOK = "byok"
    PLATFORM = "platform"


@dataclass(frozen=True, slots=True)
class ProviderConfig:
    """How the platform reaches one provider; ``base_url`` overrides the provider's default endpoint."""

    provider: Provider
    display_name: str
    base_url: str | None
    enabled: bool
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class CatalogueModel:
    """One model the platform offers.

    ``model_name`` is the id as the provider names it (``claude-sonnet-4-5``); ``default_modes`` are the task
    modes for which this model is a default choice within its tier. ``deprecated_on``, ``retires_on`` and
    ``replacement_model_id`` are its lifecycle (rules in ``asynccoder.domain.model_lifecycle``).
    """

    id: UUID
    provider: Provider
    model_name: str
    display_name: str
    context_window: int
    max_output_tokens: int
    capabilities: frozenset[Capability]
    tier: ModelTier
    enabled: bool
    default_modes: frozenset[TaskMode]
    created_at: datetime
    updated_at: datetime
    deprecated_on: date | None = None
    retires_on: date | None = None
    replacement_model_id: UUID | None = None

    def ref(self, base_url: str | None = None) -> ModelRef:
        return ModelRef(provider=self.provider, model=self.model_name, base_url=base_url)


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """Prices in micro-USD per million tokens, valid from ``effective_from`` until the next row."""

    id: UUID
    model_id: UUID
    effective_from: datetime
    input_micro_usd_per_mtok: int
    output_micro_usd_per_mtok: int
    cache_read_micro_usd_per_mtok: int
    cache_write_micro_usd_per_mtok: int
    created_at: datetime


def validate_price_values(values: dict[str, int]) -> None:
    """Every price is a non-negative integer below 1e12 micro-USD (one million dollars) per million tokens."""
    problems = [
        FieldProblem(name, "must be an integer between 0 and 1000000000000")
        for name, value in values.items()
        if not 0 <= value <= 1_000_000_000_000
    ]
    if problems:
        raise InvalidInput("A price is out of range.", problems=problems)


def price_exact_micro_usd_numerator(usage: Usage, price: ModelPrice) -> int:
    """``sum(tokens * micro-USD-per-million)``: the exact cost in micro-USD times one million."""
    return (
        usage.input_tokens * price.input_micro_usd_per_mtok
        + usage.output_tokens * price.output_micro_usd_per_mtok
        + usage.cache_read_tokens * price.cache_read_micro_usd_per_mtok
        + usage.cache_write_tokens * price.cache_write_micro_usd_per_mtok
    )


def price_usage(usage: Usage, price: ModelPrice) -> int:
    """The credits one call costs: ``ceil(sum(tokens * price_per_million) / 1_000_000 / 1000)``.

    Exact integer arithmetic, rounded up once per call, so the platform never under-charges and over-charges
    by less than one credit (1/10 cent) per call. Zero usage costs zero credits.
    """
    numerator = price_exact_micro_usd_numerator(usage, price)
    if numerator < 0:
        raise ValueError("token counts and prices cannot be negative")
    return -(-numerator // _CREDIT_DENOMINATOR)


def price_at(prices: Iterable[ModelPrice], moment: datetime) -> ModelPrice | None:
    """The price in force at ``moment``: the latest row with ``effective_from <= moment``."""
    valid = [p for p in prices if p.effective_from <= moment]
    return max(valid, key=lambda p: (p.effective_from, p.created_at)) if valid else None


def validate_model_fields(
    *, model_name: str, display_name: str, context_window: int, max_output_tokens: int
) -> None:
    problems: list[FieldProblem] = []
    if not model_name.strip() or len(model_name) > 200 or any(c.isspace() for c in model_name):
        problems.append(FieldProblem("model_name", "must be 1 to 200 characters without spaces"))
    if not display_name.strip() or len(display_name) > 200:
        problems.append(FieldProblem("display_name", "must be 1 to 200 characters"))
    if not 1 <= context_window <= 100_000_000:
        problems.append(FieldProblem("context_window", "must be between 1 and 100000000"))
    if not 1 <= max_output_tokens <= 100_000_000 or max_output_tokens > max(context_window, 1):
        problems.append(FieldProblem("max_output_tokens", "must be between 1 and the context window"))
    if problems:
        raise InvalidInput("The model is not valid.", problems=problems)


class ApiKeyStatus(enum.StrEnum):
    ACTIVE = "active"
    INVALID = "invalid"  # the provider rejected it (401); replacing the key makes it active again


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A user's own provider key (BYOK): at most one per (user, provider).

    ``sealed_key`` is the key encrypted by the ``SecretBox`` under ``api_key_context(id, user_id)``; the
    plaintext never lives in an entity. ``monthly_cap_credits`` bounds what calls on this key may cost per
    calendar month (UTC), priced like platform calls; ``None`` means no cap.
    """

    id: UUID
    user_id: UUID
    provider: Provider
    label: str
    last4: str
    sealed_key: str
    status: ApiKeyStatus
    monthly_cap_credits: int | None
    created_at: datetime
    updated_at: datetime
    last_used_at: datetime | None = None


def api_key_context(key_id: UUID, user_id: UUID) -> str:
    """Associated data binding a sealed provider key to its row and owner."""
    return f"api_keys.sealed_key:{key_id}:{user_id}"


MAX_PROVIDER_KEY_LENGTH = 512


def validate_provider_key(raw: str) -> str:
    key = raw.strip()
    if len(key) < 8 or len(key) > MAX_PROVIDER_KEY_LENGTH or not key.isprintable() or " " in key:
        raise InvalidInput(
            "The key is not valid.",
            problems=[FieldProblem("key", "must be 8 to 512 printable characters without spaces")],
        )
    return key


def validate_label(raw: str) -> str:
    label = raw.strip()
    if len(label) > 100 or not label.isprintable():
        raise InvalidInput(
            "The label is not valid.",
            problems=[FieldProblem("label", "must be at most 100 printable characters")],
        )
    return label


@dataclass(frozen=True, slots=True)
class ApiKeyProviderInfo:
    """Reference data: a provider a user may store a key for."""

    provider: Provider
    display_name: str
    key_hint: str | None


class CallOutcome(enum.StrEnum):
    OK = "ok"
    RATE_LIMITED = "rate_limited"
    OVERLOADED = "overloaded"
    AUTH_FAILED = "auth_failed"
    INVALID_REQUEST = "invalid_request"
    UNAVAILABLE = "unavailable"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class UsageLogEntry:
    """One model call: who, which catalogued model, which key, tokens, cost and outcome.

    ``cost_credits`` is the call's price at ``at``; ``charged_credits`` is what the platform charges (zero on
    the user's own key).
    """

    id: UUID
    user_id: UUID
    model_id: UUID
    api_key_id: UUID | None
    key_source: KeySource
    answered_model: str
    usage: Usage
    cost_credits: int
    charged_credits: int
    latency_ms: int
    outcome: CallOutcome
    at: datetime


# Upper bounds (ms, inclusive) of the latency histogram kept per model and day; the last bucket is open.
LATENCY_BUCKETS_MS: tuple[int, ...] = (100, 250, 500, 1000, 2000, 4000, 8000, 15000, 30000, 60000, 120000)
LATENCY_BUCKET_COUNT = len(LATENCY_BUCKETS_MS) + 1


def latency_bucket(latency_ms: int) -> int:
    for index, bound in enumerate(LATENCY_BUCKETS_MS):
        if latency_ms <= bound:
            return index
    return len(LATENCY_BUCKETS_MS)


def percentile_from_buckets(buckets: Sequence[int], fraction: float) -> int | None:
    """The upper bound of the bucket holding the ``fraction`` quantile (an upper estimate); ``None`` if empty.

    The open last bucket reports its lower bound.
    """
    total = sum(buckets)
    if total == 0:
        return None
    rank = max(1, -(-int(fraction * 1000) * total // 1000))
    running = 0
    for index, count in enumerate(buckets):
        running += count
        if running >= rank:
            return LATENCY_BUCKETS_MS[min(index, len(LATENCY_BUCKETS_MS) - 1)]
    return LATENCY_BUCKETS_MS[-1]


@dataclass(frozen=True, slots=True)
class DailyModelUsage:
    """Aggregated calls of one model on one UTC day."""

    model_id: UUID
    day: date
    calls: int
    errors: int
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    cost_credits: int
    latency_buckets: tuple[int, ...] = field(default=(0,) * LATENCY_BUCKET_COUNT)

    @property
    def latency_p50_ms(self) -> int | None:
        return percentile_from_buckets(self.latency_buckets, 0.50)

    @property
    def latency_p95_ms(self) -> int | None:
        return percentile_from_buckets(self.latency_buckets, 0.95)


@dataclass(frozen=True, slots=True)
class UserDailyUsage:
    """One user's calls of one model on one UTC day (from the usage log)."""

    model_id: UUID
    day: date
    calls: int
    errors: int
    input_tokens: int
    output_tokens: int
    cost_credits: int
    charged_credits: int
