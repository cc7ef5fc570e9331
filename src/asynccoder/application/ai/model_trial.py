"""Trying a catalogued model with one minimal real call."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from asynccoder.application.ai.api_keys import (
    PROBE_MAX_TOKENS,
    PROBE_PROMPT,
)
from asynccoder.application.ports.ai import ChatModelFactory, ModelFilter, PlatformKeys
from asynccoder.application.ports.system import (
    Clock,
    SecretBox,
    SecretUnreadable,
)
from asynccoder.application.ports.uow import UnitOfWork
from asynccoder.domain.ai import ChatRequest, Message, ProviderError
from asynccoder.domain.ai_catalogue import api_key_context
from asynccoder.domain.errors import NotFound, Refused
from asynccoder.domain.identity import Actor
from asynccoder.domain.model_lifecycle import is_retired, retired_error


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


class TryModel:
    """Makes one short call (tiny ``max_tokens``) to a model and reports whether it answered.

    Rules: a disabled model is ``NotFound`` for non-admins; a model retired at the clock's now is refused
    (``ModelRetired`` ``model_retired``, with the suggested replacement); ``use_own_key`` needs the caller's
    own key for the provider (``Refused`` ``no_own_key``), otherwise the platform key must be configured
    (``Refused`` ``platform_key_not_configured``); a provider failure is a result (``ok=false`` with the
    provider error code), not an error. Test calls are not billed or recorded in usage.
    """

    def __init__(
        self,
        uow: UnitOfWork,
        clock: Clock,
        box: SecretBox,
        factory: ChatModelFactory,
        platform_keys: PlatformKeys,
    ) -> None:
        self._uow, self._clock, self._box, self._factory, self._platform = (
            uow,
            clock,
            box,
            factory,
            platform_keys,
        )

    async def __call__(self, data: TryModelInput) -> ModelTrialResult:
        async with self._uow as uow:
            model = await uow.ai_catalogue.get_model(data.model_id)
            if model is None or (not model.enabled and not data.actor.is_admin):
                raise NotFound("No such model.", code="model_not_found")
            if is_retired(model, now := self._clock.now()):
                catalogue = await uow.ai_catalogue.list_models(ModelFilter(enabled_only=False))
                raise retired_error(model, {m.id: m for m in catalogue}, now)
            config = await uow.ai_catalogue.get_provider_config(model.provider)
            own = await uow.api_keys.get_for_provider(data.actor.user_id, model.provider)
        if data.use_own_key:
            if own is None:
                raise Refused("You have no key for this provider.", code="no_own_key")
            try:
                key = self._box.decrypt(own.sealed_key, context=api_key_context(own.id, own.user_id))
            except SecretUnreadable:
                raise Refused(
                    "Your stored key cannot be read; save it again.", code="api_key_unreadable"
                ) from None
        else:
            platform = self._platform.key_for(model.provider)
            if platform is None:
                raise Refused(
                    "The platform has no key for this provider.", code="platform_key_not_configured"
                )
            key = platform
        ref = model.ref(config.base_url if config else None)
        request = ChatRequest(
            model=ref.model, messages=(Message.user(PROBE_PROMPT),), max_tokens=PROBE_MAX_TOKENS
        )
        started = self._clock.now()
        try:
            response = await self._factory.create(ref, api_key=key).complete(request)
        except ProviderError as exc:
            return ModelTrialResult(False, self._elapsed_ms(started), ref.model, exc.code, exc.message)
        except Exception:
            # A test reports every failure as its result; the adapter's contract is ProviderError only.
            return ModelTrialResult(
                False,
                self._elapsed_ms(started),
                ref.model,
                "provider_unavailable",
                "The call failed unexpectedly.",
            )
        return ModelTrialResult(True, self._elapsed_ms(started), response.model, None, "The model answered.")

    def _elapsed_ms(self, started: datetime) -> int:
        return max(0, int((self._clock.now() - started).total_seconds() * 1000))
