"""CallModelForUser: one model call on a user's behalf, end to end."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from asynccoder.application.ai.api_keys import (
    CallCredentials,
    ResolveCallCredentials,
    ResolveCallCredentialsInput,
)
from asynccoder.application.ai.complete_with_fallback import (
    Attempt,
    Candidate,
    CompleteWithFallback,
    CompleteWithFallbackInput,
    FallbackExhausted,
)
from asynccoder.application.ai.selection import (
    ModelCandidate,
    SelectModelsForUser,
    SelectModelsForUserInput,
)
from asynccoder.application.ai.usage import (
    RecordModelUsage,
    RecordModelUsageInput,
)
from asynccoder.application.ports.ai import TierEntitlements
from asynccoder.application.ports.metrics import NO_METRICS, Metrics, ModelCallMetric
from asynccoder.domain.ai import (
    ChatRequest,
    ChatResponse,
    ContextTooLong,
    ProviderAuthError,
    ProviderError,
    ProviderInvalidRequest,
    ProviderOverloaded,
    ProviderRateLimited,
    ProviderUnavailable,
    Usage,
)
from asynccoder.domain.ai_catalogue import CallOutcome, KeySource, TaskMode
from asynccoder.domain.errors import Refused


@dataclass(frozen=True, slots=True)
class CallModelInput:
    user_id: UUID
    mode: TaskMode
    request: ChatRequest  # its ``model`` is replaced by each candidate's
    model_id: UUID | None = None  # an explicit catalogue model, else the mode's default
    own_keys_only: bool = False  # skip candidates that would answer on a platform key (BYOK-only tasks)


@dataclass(frozen=True, slots=True)
class CallModelOutput:
    response: ChatResponse
    model_id: UUID  # the catalogue model that answered
    key_source: KeySource
    cost_credits: int
    charged_credits: int  # platform credits to charge: 0 when the user's own key answered
    attempts: tuple[Attempt, ...]


def outcome_of(error: ProviderError | None) -> CallOutcome:
    """How a provider error is recorded in the usage log."""
    if error is None:
        return CallOutcome.OK
    for kind, outcome in (
        (ProviderRateLimited, CallOutcome.RATE_LIMITED),
        (ProviderOverloaded, CallOutcome.OVERLOADED),
        (ProviderAuthError, CallOutcome.AUTH_FAILED),
        (ContextTooLong, CallOutcome.INVALID_REQUEST),
        (ProviderInvalidRequest, CallOutcome.INVALID_REQUEST),
        (ProviderUnavailable, CallOutcome.UNAVAILABLE),
    ):
        if isinstance(error, kind):
            return outcome
    return CallOutcome.ERROR


class CallModelForUser:
    """Call a model for a user: pick the chain, resolve the keys, fall back, record every attempt.

    Rules:
    - the candidates are ``SelectModelsForUser``'s chain for the mode (or the explicit model first) within
      the tiers the user's plan allows;
    - each candidate's key is resolved just before the call (``ResolveCallCredentials``: the user's own key
      when valid and under its cap, else the platform key); a candidate with no key is skipped, and so is
      one on a platform key when ``own_keys_only`` (a BYOK-only task holds no credits for platform calls);
    - the chain runs through ``CompleteWithFallback`` (rate-limited, overloaded, unavailable and auth
      failures move on; a request the provider refuses stops);
    - every attempt is recorded with ``RecordModelUsage`` against the catalogue model it tried: failures
      with zero tokens and their outcome, the answer with its usage and the model that actually answered;
      cost is priced at call time and charged only when the platform key answered;
    - when no candidate answers, the attempts are still recorded and the provider error is raised;
    - every attempt is also counted (``Metrics.model_called``) under its catalogue provider and model.
    """

    def __init__(
        self,
        entitlements: TierEntitlements,
        select: SelectModelsForUser,
        credentials: ResolveCallCredentials,
        complete: CompleteWithFallback,
        record: RecordModelUsage,
        metrics: Metrics = NO_METRICS,
    ) -> None:
        self._metrics = metrics
        self._entitlements = entitlements
        self._select = select
        self._credentials = credentials
        self._complete = complete
        self._record = record

    async def __call__(self, data: CallModelInput) -> CallModelOutput:
        tiers = await self._entitlements.allowed_tiers(data.user_id)
        selected = await self._select(
            SelectModelsForUserInput(data.user_id, data.mode, tiers, model_id=data.model_id)
        )
        chain: list[tuple[ModelCandidate, CallCredentials]] = []
        for candidate in selected.candidates:
            try:
                creds = await self._credentials(
                    ResolveCallCredentialsInput(data.user_id, candidate.ref.provider)
                )
            except Refused:
                continue
            if data.own_keys_only and creds.key_source is not KeySource.BYOK:
                continue
            chain.append((candidate, creds))
        candidates = tuple(
            Candidate(model.ref, creds.api_key, label=str(index))
            for index, (model, creds) in enumerate(chain)
        )
        try:
            result = await self._complete(CompleteWithFallbackInput(candidates, data.request))
        except FallbackExhausted as exhausted:
            await self._record_attempts(data.user_id, chain, exhausted.attempts, answer=None)
            raise
        costs = await self._record_attempts(data.user_id, chain, result.attempts, answer=result.response)
        model, creds = chain[int(result.candidate.label)]
        cost, charged = costs
        return CallModelOutput(
            result.response, model.model_id, creds.key_source, cost, charged, result.attempts
        )

    async def _record_attempts(
        self,
        user_id: UUID,
        chain: list[tuple[ModelCandidate, CallCredentials]],
        attempts: tuple[Attempt, ...],
        *,
        answer: ChatResponse | None,
    ) -> tuple[int, int]:
        cost = charged = 0
        for attempt in attempts:
            model, creds = chain[int(attempt.label)]
            succeeded = attempt.error is None and answer is not None
            recorded = await self._record(
                RecordModelUsageInput(
                    user_id=user_id,
                    model_id=model.model_id,
                    key_source=creds.key_source,
                    answered_model=answer.model if succeeded and answer else model.ref.model,
                    usage=answer.usage if succeeded and answer else Usage(),
                    latency_ms=attempt.latency_ms,
                    outcome=outcome_of(attempt.error),
                    api_key_id=creds.api_key_id,
                )
            )
            if succeeded:
                cost, charged = recorded.cost_credits, recorded.charged_credits
            usage = answer.usage if succeeded and answer else Usage()
            self._metrics.model_called(
                ModelCallMetric(
                    provider=model.ref.provider.value,
                    model=model.ref.model,
                    outcome=outcome_of(attempt.error).value,
                    latency_ms=attempt.latency_ms,
                    input_tokens=usage.input_tokens,
                    output_tokens=usage.output_tokens,
                    cache_read_tokens=usage.cache_read_tokens,
                    cache_write_tokens=usage.cache_write_tokens,
                    charged_credits=recorded.charged_credits if succeeded else 0,
                )
            )
        return cost, charged
