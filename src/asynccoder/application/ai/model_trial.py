"""Trying a catalogued model with one minimal real call."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from asynccoder.application.ai.api_keys import (
    PROBE_MAX_TOKENS,
    PROBE_PROMPT,
)
from asynccoder.application.ai.call_model import outcome_of
from asynccoder.application.ai.usage import RecordModelUsage, RecordModelUsageInput
from asynccoder.application.ports.ai import (
    ChatModelFactory,
    ModelFilter,
    PlatformKeys,
    TierEntitlements,
    TrialCharges,
)
from asynccoder.application.ports.system import (
    Clock,
    IdGenerator,
    SecretBox,
    SecretUnreadable,
)
from asynccoder.application.ports.uow import UnitOfWork
from asynccoder.domain.ai import ChatRequest, ChatResponse, Message, ProviderError, ProviderUnavailable, Usage
from asynccoder.domain.ai_catalogue import KeySource, api_key_context, price_usage
from asynccoder.domain.errors import NotFound, Refused
from asynccoder.domain.identity import Actor
from asynccoder.domain.model_lifecycle import is_retired, retired_error

# What the hold of a platform-key test covers: the probe prompt is a handful of tokens; 64 leaves room for
# the provider's own framing, and the answer is capped at ``PROBE_MAX_TOKENS``.
PROBE_INPUT_TOKENS_BOUND = 64


@dataclass(frozen=True, slots=True)
class TryModelInput:
    actor: Actor
    model_id: UUID
    use_own_key: bool


@dataclass(frozen=True, slots=True)
class ModelTrialResult:
    ok: bool
    latency_ms: int
    model: str
    error_code: str | None
    message: str
    charged_credits: int = 0


class TryModel:
    """Makes one short call (tiny ``max_tokens``) to a model and reports whether it answered.

    Rules: a disabled model is ``NotFound`` for non-admins; a model retired at the clock's now is refused
    (``ModelRetired`` ``model_retired``, with the suggested replacement); a model of a tier the caller's plan
    does not include is refused for non-admins (``Refused`` ``tier_not_allowed``), as for real calls;
    ``use_own_key`` needs the caller's own key for the provider (``Refused`` ``no_own_key``), otherwise the
    platform key must be configured (``Refused`` ``platform_key_not_configured``). A test on the platform
    key is paid like any call: its bound (``PROBE_INPUT_TOKENS_BOUND`` in, ``PROBE_MAX_TOKENS`` out, at the
    price in force) is held first (``InsufficientCredits`` when not available), then the priced usage is
    spent and the rest released. Every test is recorded in usage like a real call, so an own key the
    provider refuses (401) is marked invalid. A provider failure is a result (``ok=false`` with the provider
    error code), not an error. The per-user rate of tests is limited at the HTTP layer.
    """

    def __init__(
        self,
        uow: UnitOfWork,
        clock: Clock,
        box: SecretBox,
        factory: ChatModelFactory,
        platform_keys: PlatformKeys,
        entitlements: TierEntitlements,
        charges: TrialCharges,
        record: RecordModelUsage,
        ids: IdGenerator,
    ) -> None:
        self._uow, self._clock, self._box, self._factory = uow, clock, box, factory
        self._platform, self._entitlements, self._charges = platform_keys, entitlements, charges
        self._record, self._ids = record, ids

    async def __call__(self, data: TryModelInput) -> ModelTrialResult:
        now = self._clock.now()
        async with self._uow as uow:
            model = await uow.ai_catalogue.get_model(data.model_id)
            if model is None or (not model.enabled and not data.actor.is_admin):
                raise NotFound("No such model.", code="model_not_found")
            if is_retired(model, now):
                catalogue = await uow.ai_catalogue.list_models(ModelFilter(enabled_only=False))
                raise retired_error(model, {m.id: m for m in catalogue}, now)
            config = await uow.ai_catalogue.get_provider_config(model.provider)
            own = await uow.api_keys.get_for_provider(data.actor.user_id, model.provider)
            price = (await uow.ai_catalogue.prices_at([model.id], now)).get(model.id)
        if not data.actor.is_admin and model.tier not in await self._entitlements.allowed_tiers(
            data.actor.user_id
        ):
            raise Refused("Your plan does not include this model's tier.", code="tier_not_allowed")
        if data.use_own_key:
            if own is None:
                raise Refused("You have no key for this provider.", code="no_own_key")
            try:
                key = self._box.decrypt(own.sealed_key, context=api_key_context(own.id, own.user_id))
            except SecretUnreadable:
                raise Refused(
                    "Your stored key cannot be read; save it again.", code="api_key_unreadable"
                ) from None
            source, key_id = KeySource.BYOK, own.id
        else:
            platform = self._platform.key_for(model.provider)
            if platform is None:
                raise Refused(
                    "The platform has no key for this provider.", code="platform_key_not_configured"
                )
            key, source, key_id = platform, KeySource.PLATFORM, None
        bound = price_usage(Usage(PROBE_INPUT_TOKENS_BOUND, PROBE_MAX_TOKENS), price) if price else 0
        hold_id = None
        if source is KeySource.PLATFORM and bound > 0:
            reference = f"model-test:{self._ids.new_id()}"
            hold_id = await self._charges.reserve(data.actor.user_id, bound, reference)
        charged = 0
        try:
            ref = model.ref(config.base_url if config else None)
            request = ChatRequest(
                model=ref.model, messages=(Message.user(PROBE_PROMPT),), max_tokens=PROBE_MAX_TOKENS
            )
            started = self._clock.now()
            response: ChatResponse | None = None
            error: ProviderError | None = None
            try:
                response = await self._factory.create(ref, api_key=key).complete(request)
            except ProviderError as exc:
                error = exc
            except Exception:
                # A test reports every failure as its result; the adapter's contract is ProviderError only.
                error = ProviderUnavailable("The call failed unexpectedly.", provider=model.provider.value)
            latency = self._elapsed_ms(started)
            recorded = await self._record(
                RecordModelUsageInput(
                    user_id=data.actor.user_id,
                    model_id=model.id,
                    key_source=source,
                    answered_model=response.model if response else ref.model,
                    usage=response.usage if response else Usage(),
                    latency_ms=latency,
                    outcome=outcome_of(error),
                    api_key_id=key_id,
                )
            )
            charged = min(recorded.charged_credits, bound)
        finally:
            if hold_id is not None:
                await self._charges.settle(data.actor.user_id, hold_id, charged)
        if response is None:
            assert error is not None
            return ModelTrialResult(False, latency, ref.model, error.code, error.message, charged)
        return ModelTrialResult(True, latency, response.model, None, "The model answered.", charged)

    def _elapsed_ms(self, started: datetime) -> int:
        return max(0, int((self._clock.now() - started).total_seconds() * 1000))
