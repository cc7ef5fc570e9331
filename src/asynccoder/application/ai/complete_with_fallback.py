"""Run one model turn on the first candidate of a fallback chain that answers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import datetime

from asynccoder.application.ports.ai import ChatModelFactory
from asynccoder.application.ports.system import Clock
from asynccoder.domain.ai import (
    ChatRequest,
    ChatResponse,
    ContextTooLong,
    ModelRef,
    ProviderAuthError,
    ProviderError,
    ProviderInvalidRequest,
    ProviderOverloaded,
    ProviderRateLimited,
    ProviderUnavailable,
    StreamDone,
    TextDelta,
)

# A provider-side failure: another candidate (another key, model or provider) may well succeed.
FALL_THROUGH: tuple[type[ProviderError], ...] = (
    ProviderRateLimited,
    ProviderOverloaded,
    ProviderUnavailable,
    ProviderAuthError,
)
# A problem with the request itself: every candidate would refuse it the same way.
STOP: tuple[type[ProviderError], ...] = (ContextTooLong, ProviderInvalidRequest)


@dataclass(frozen=True, slots=True)
class Candidate:
    """One link of the chain: a model, its key, the caller's label (``byok``/``platform``)."""

    ref: ModelRef
    api_key: str = field(repr=False)
    label: str = ""


@dataclass(frozen=True, slots=True)
class Attempt:
    """One try: ``outcome`` is ``"ok"`` or the error's code; ``latency_ms`` measured with the Clock port."""

    ref: ModelRef
    label: str
    outcome: str
    latency_ms: int
    error: ProviderError | None = None


@dataclass(frozen=True, slots=True)
class CompleteWithFallbackInput:
    candidates: tuple[Candidate, ...]
    request: ChatRequest


@dataclass(frozen=True, slots=True)
class CompleteWithFallbackOutput:
    response: ChatResponse
    candidate: Candidate
    attempts: tuple[Attempt, ...]


@dataclass(frozen=True, slots=True)
class FallbackStreamDone:
    """The last event of a fallback stream."""

    result: CompleteWithFallbackOutput


class FallbackExhausted(ProviderError):
    """The chain gave up. ``code`` is the last error's code, ``last`` the last error itself (test it with
    ``isinstance(exc.last, ContextTooLong)``), ``attempts`` every try in order."""

    def __init__(self, last: ProviderError, attempts: tuple[Attempt, ...]) -> None:
        super().__init__(str(last), provider=last.provider, code=last.code)
        self.last = last
        self.attempts = attempts
        self.retryable = last.retryable


def _no_candidates() -> ProviderUnavailable:
    return ProviderUnavailable("no model is available for this request", code="no_model_available")


class _Chain:
    """Shared bookkeeping of both use cases: attempts, latency, and the stop/fall-through decision."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self.attempts: list[Attempt] = []

    def now(self) -> datetime:
        return self._clock.now()

    def record(self, candidate: Candidate, started: datetime, error: ProviderError | None = None) -> None:
        latency = int((self._clock.now() - started).total_seconds() * 1000)
        outcome = "ok" if error is None else error.code
        self.attempts.append(Attempt(candidate.ref, candidate.label, outcome, max(0, latency), error))

    def give_up(self, error: ProviderError, *, last: bool) -> ProviderError | None:
        """The error to raise now, or None to try the next candidate."""
        if isinstance(error, STOP) or not isinstance(error, FALL_THROUGH) or last:
            return FallbackExhausted(error, tuple(self.attempts))
        return None


class CompleteWithFallback:
    """Ask each candidate in order until one answers.

    Rules:
    - candidates are tried in the caller's order; the request's ``model`` is replaced by each candidate's;
    - rate limited, overloaded, unavailable (5xx, timeout, malformed) and auth failures move to the next
      candidate: another key, model or provider may succeed (each adapter has already retried transient
      failures itself);
    - context too long and invalid request stop the chain at once: they describe the request, so another
      provider would refuse it too (a chain that wants a larger window must list that model first);
    - every try is recorded (model, label, outcome code, latency from the Clock); the answer names the
      candidate that produced it and the model that actually answered (``response.model``);
    - when no candidate answers, ``FallbackExhausted`` carries the last error's code and all attempts;
      an empty chain is ``ProviderUnavailable`` with code ``no_model_available``.
    """

    def __init__(self, models: ChatModelFactory, clock: Clock) -> None:
        self._models = models
        self._clock = clock

    async def __call__(self, command: CompleteWithFallbackInput) -> CompleteWithFallbackOutput:
        if not command.candidates:
            raise _no_candidates()
        chain = _Chain(self._clock)
        for index, candidate in enumerate(command.candidates):
            started = chain.now()
            try:
                model = self._models.create(candidate.ref, api_key=candidate.api_key)
                response = await model.complete(replace(command.request, model=candidate.ref.model))
            except ProviderError as error:
                chain.record(candidate, started, error)
                final = chain.give_up(error, last=index == len(command.candidates) - 1)
                if final is not None:
                    raise final from None
                continue
            chain.record(candidate, started)
            return CompleteWithFallbackOutput(response, candidate, tuple(chain.attempts))
        raise AssertionError("unreachable")  # pragma: no cover


class StreamWithFallback:
    """Stream one turn from the first candidate that answers.

    Rules: as ``CompleteWithFallback``, with one more: the chain moves on only while nothing has been
    yielded to the caller; once a candidate's first text delta went out, its failure is final (the caller
    has shown that text). The stream ends with one ``FallbackStreamDone``.
    """

    def __init__(self, models: ChatModelFactory, clock: Clock) -> None:
        self._models = models
        self._clock = clock

    async def __call__(
        self, command: CompleteWithFallbackInput
    ) -> AsyncIterator[TextDelta | FallbackStreamDone]:
        if not command.candidates:
            raise _no_candidates()
        chain = _Chain(self._clock)
        for index, candidate in enumerate(command.candidates):
            started = chain.now()
            yielded = False
            done: ChatResponse | None = None
            failure: ProviderError | None = None
            try:
                model = self._models.create(candidate.ref, api_key=candidate.api_key)
                async for event in model.stream(replace(command.request, model=candidate.ref.model)):
                    if isinstance(event, StreamDone):
                        done = event.response
                    else:
                        yielded = True
                        yield event
            except ProviderError as error:
                failure = error
            if failure is None and done is None:
                failure = ProviderUnavailable(
                    "the stream ended without a result", provider=candidate.ref.provider
                )
            if failure is not None:
                chain.record(candidate, started, failure)
                last = yielded or index == len(command.candidates) - 1
                final = chain.give_up(failure, last=last)
                if final is not None:
                    raise final
                continue
            assert done is not None
            chain.record(candidate, started)
            yield FallbackStreamDone(CompleteWithFallbackOutput(done, candidate, tuple(chain.attempts)))
            return


__all__ = [
    "Attempt",
    "Candidate",
    "CompleteWithFallback",
    "CompleteWithFallbackInput",
    "CompleteWithFallbackOutput",
    "FallbackExhausted",
    "FallbackStreamDone",
    "StreamWithFallback",
]
