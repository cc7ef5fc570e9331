"""The one retry, timeout and error-mapping policy shared by every provider adapter.

The SDKs' own retries are turned off (``max_retries=0``) so that this policy alone decides: transient failures
(``ProviderError.retryable``: 429, 529/503 overloaded, 5xx, timeouts, connection errors, malformed responses)
are retried with exponential backoff and full jitter, a server's ``retry-after`` / ``retry-after-ms`` wins
over the computed delay (capped), and after ``max_attempts`` the last mapped error is raised. Streams are
retried only until their first event reached the caller.

Error messages are built here from the status code and the provider name only: never from the provider's
body (it may echo the request) and never with the API key.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from asynccoder.application.ai.ports import ChatModel
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
    StreamEvent,
)

logger = logging.getLogger(__name__)

_CONTEXT_HINTS = (
    "context_length",
    "context length",
    "context window",
    "prompt is too long",
    "too many tokens",
    "maximum number of tokens",
    "input token count",
    "reduce the length",
    "maximum context",
)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently to retry a transient failure."""

    max_attempts: int = 3
    base_delay: float = 0.5
    max_delay: float = 20.0
    max_retry_after: float = 60.0
    sleep: Callable[[float], Awaitable[None]] = field(default=asyncio.sleep, compare=False)
    jitter: Callable[[], float] = field(default=random.random, compare=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")

    def delay(self, attempt: int, error: ProviderError) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        if isinstance(error, ProviderRateLimited) and error.retry_after is not None:
            return max(0.0, min(error.retry_after, self.max_retry_after))
        ceiling = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        return float(ceiling * self.jitter())


@dataclass(frozen=True, slots=True)
class CallOptions:
    """Timeouts (seconds) for every HTTP call and the retry policy."""

    read_timeout: float = 120.0
    connect_timeout: float = 10.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)


def parse_retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds from ``retry-after-ms`` (Anthropic, OpenAI) or ``retry-after`` (seconds or an HTTP date)."""
    if not headers:
        return None
    raw_ms = headers.get("retry-after-ms")
    if raw_ms:
        try:
            return max(0.0, float(raw_ms) / 1000)
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    parsed = email.utils.parsedate_to_datetime(raw) if "," in raw else None
    if parsed is None:
        return None
    return max(0.0, parsed.timestamp() - time.time())


def looks_like_context_overflow(*hints: object) -> bool:
    """Whether a provider's 400 says the prompt exceeds the model's context window."""
    text = " ".join(str(h) for h in hints if h is not None).lower()
    return any(h in text for h in _CONTEXT_HINTS)


def error_for_status(
    provider: str,
    status: int,
    *,
    retry_after: float | None = None,
    context_overflow: bool = False,
    overloaded: bool = False,
) -> ProviderError:
    """The domain error for an HTTP status; messages name the provider and the status, nothing else."""
    if status in (401, 403):
        return ProviderAuthError(f"{provider} rejected the API key (HTTP {status})", provider=provider)
    if status == 429:
        return ProviderRateLimited(
            f"{provider} rate limit reached (HTTP 429)", provider=provider, retry_after=retry_after
        )
    if status in (503, 529) or overloaded:
        return ProviderOverloaded(f"{provider} is overloaded (HTTP {status})", provider=provider)
    if status in (400, 413) and context_overflow:
        return ContextTooLong(
            f"{provider}: the conversation exceeds the model's context window", provider=provider
        )
    if 400 <= status < 500 and status not in (408, 409):
        return ProviderInvalidRequest(f"{provider} refused the request (HTTP {status})", provider=provider)
    return ProviderUnavailable(f"{provider} failed (HTTP {status})", provider=provider)


def timed_out(provider: str) -> ProviderUnavailable:
    return ProviderUnavailable(
        f"{provider} did not answer in time", provider=provider, code="provider_timeout"
    )


def unreachable(provider: str) -> ProviderUnavailable:
    return ProviderUnavailable(f"{provider} could not be reached", provider=provider)


def malformed(provider: str) -> ProviderUnavailable:
    return ProviderUnavailable(
        f"{provider} sent a response that could not be understood",
        provider=provider,
        code="provider_malformed_response",
    )


class RetryingChatModel(ChatModel, ABC):
    """Base of the SDK adapters: subclasses make one attempt, this class applies the shared policy.

    ``_complete_once`` and ``_stream_once`` raise only ``ProviderError`` subclasses (subclasses translate
    their SDK's exceptions with ``_translate``; anything unexpected becomes "malformed response").
    """

    provider_name: str = "provider"

    def __init__(self, options: CallOptions) -> None:
        self._options = options

    @abstractmethod
    async def _complete_once(self, request: ChatRequest) -> ChatResponse: ...

    @abstractmethod
    def _stream_once(self, request: ChatRequest) -> AsyncIterator[StreamEvent]: ...

    @abstractmethod
    def _translate(self, exc: Exception) -> ProviderError: ...

    def _map(self, exc: Exception) -> ProviderError:
        if isinstance(exc, ProviderError):
            return exc
        if isinstance(exc, Warning):
            # Only raised when warnings are errors (tests): e.g. the SDK's notice of a deprecated model id.
            raise exc
        try:
            return self._translate(exc)
        except Exception:  # a translation bug must not leak the original (it may carry a body)
            return malformed(self.provider_name)

    async def complete(self, request: ChatRequest) -> ChatResponse:
        attempt = 1
        while True:
            try:
                return await self._complete_once(request)
            except Exception as exc:
                error = self._map(exc)
            await self._before_retry(attempt, error)
            attempt += 1

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        attempt = 1
        while True:
            started = False
            try:
                async for event in self._stream_once(request):
                    started = True
                    yield event
                return
            except Exception as exc:
                error = self._map(exc)
            if started:  # the caller saw part of the answer: a retry would repeat it
                raise error
            await self._before_retry(attempt, error)
            attempt += 1

    async def _before_retry(self, attempt: int, error: ProviderError) -> None:
        """Sleep before the next attempt, or raise ``error`` when it is final."""
        policy = self._options.retry
        if not error.retryable or attempt >= policy.max_attempts:
            logger.warning(
                "model call failed",
                extra={"provider": self.provider_name, "error_code": error.code, "attempts": attempt},
            )
            raise error from None
        delay = policy.delay(attempt, error)
        logger.info(
            "model call failed, retrying",
            extra={
                "provider": self.provider_name,
                "error_code": error.code,
                "attempt": attempt,
                "delay": delay,
            },
        )
        await policy.sleep(delay)
