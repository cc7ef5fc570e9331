"""The shared retry policy and status mapping of the provider adapters."""

from __future__ import annotations

import email.utils
import time
from collections.abc import AsyncIterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from asynccoder.adapters.ai.resilience import (
    CallOptions,
    RetryingChatModel,
    RetryPolicy,
    error_for_status,
    parse_retry_after,
)
from asynccoder.domain.ai import (
    ChatRequest,
    ChatResponse,
    ContextTooLong,
    Message,
    ProviderAuthError,
    ProviderError,
    ProviderInvalidRequest,
    ProviderOverloaded,
    ProviderRateLimited,
    ProviderUnavailable,
    Role,
    StreamEvent,
    TextBlock,
)


@given(st.integers(min_value=1, max_value=30), st.floats(min_value=0, max_value=1))
def test_backoff_is_exponential_with_full_jitter_and_capped(attempt: int, jitter: float) -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=20, jitter=lambda: jitter)

    delay = policy.delay(attempt, ProviderOverloaded("x"))

    assert 0 <= delay <= min(20, 0.5 * 2 ** (attempt - 1))
    assert delay == pytest.approx(min(20, 0.5 * 2 ** (attempt - 1)) * jitter)


@given(st.floats(min_value=0, max_value=10_000))
def test_a_servers_retry_after_wins_but_is_capped(retry_after: float) -> None:
    policy = RetryPolicy(max_retry_after=60)

    delay = policy.delay(1, ProviderRateLimited("x", retry_after=retry_after))

    assert delay == min(retry_after, 60)


def test_at_least_one_attempt_is_required() -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "3"}, 3.0),
        ({"retry-after": "1.5"}, 1.5),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),
        ({"retry-after-ms": "junk", "retry-after": "2"}, 2.0),
        ({"retry-after": "soon"}, None),
        ({}, None),
        (None, None),
    ],
)
def test_retry_after_headers_are_parsed(headers: dict[str, str] | None, expected: float | None) -> None:
    assert parse_retry_after(headers) == expected


def test_retry_after_as_an_http_date_is_seconds_from_now() -> None:
    header = email.utils.formatdate(time.time() + 30, usegmt=True)

    seconds = parse_retry_after({"retry-after": header})

    assert seconds is not None
    assert 25 <= seconds <= 31


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (401, ProviderAuthError),
        (403, ProviderAuthError),
        (429, ProviderRateLimited),
        (529, ProviderOverloaded),
        (503, ProviderOverloaded),
        (500, ProviderUnavailable),
        (502, ProviderUnavailable),
        (504, ProviderUnavailable),
        (408, ProviderUnavailable),
        (400, ProviderInvalidRequest),
        (404, ProviderInvalidRequest),
        (422, ProviderInvalidRequest),
    ],
)
def test_statuses_map_to_the_domain_errors(status: int, kind: type[ProviderError]) -> None:
    error = error_for_status("acme", status)

    assert type(error) is kind
    assert str(status) in str(error)


def test_a_400_about_the_context_window_is_context_too_long() -> None:
    assert isinstance(error_for_status("acme", 400, context_overflow=True), ContextTooLong)


def test_retryable_errors_are_exactly_the_transient_ones() -> None:
    transient = [ProviderRateLimited, ProviderOverloaded, ProviderUnavailable]
    permanent = [ProviderAuthError, ContextTooLong, ProviderInvalidRequest]
    assert [kind.retryable for kind in transient] == [True, True, True]
    assert [kind.retryable for kind in permanent] == [False, False, False]


class _WarningModel(RetryingChatModel):
    """Makes one attempt that raises what it is given, as an SDK call would."""

    provider_name = "test"

    def __init__(self, raised: Exception) -> None:
        super().__init__(CallOptions(retry=RetryPolicy(max_attempts=3, sleep=_no_sleep)))
        self.raised = raised
        self.attempts = 0

    async def _complete_once(self, request: ChatRequest) -> ChatResponse:
        self.attempts += 1
        raise self.raised

    async def _stream_once(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        self.attempts += 1
        raise self.raised
        yield  # pragma: no cover - makes this an async generator

    def _translate(self, exc: Exception) -> ProviderError:
        return ProviderUnavailable("translated", code="provider_unavailable")


async def _no_sleep(_: float) -> None:
    return None


_REQUEST = ChatRequest(model="m", messages=(Message(Role.USER, (TextBlock("hi"),)),))


@pytest.mark.parametrize("warning", [DeprecationWarning("model x is deprecated"), UserWarning("sdk notice")])
async def test_a_warning_raised_inside_an_sdk_call_is_neither_swallowed_nor_called_malformed(
    warning: Warning,
) -> None:
    # Under warnings-as-errors an SDK notice (such as a deprecated model id) surfaces as the warning itself,
    # once, so a test that trips it says why it fails instead of reporting a malformed response.
    model = _WarningModel(warning)

    with pytest.raises(type(warning), match=str(warning)):
        await model.complete(_REQUEST)
    with pytest.raises(type(warning), match=str(warning)):
        async for _ in model.stream(_REQUEST):
            pass

    assert model.attempts == 2  # one per call: never retried


async def test_an_unexpected_sdk_exception_is_translated_not_raised_raw() -> None:
    model = _WarningModel(RuntimeError("body with secrets"))

    with pytest.raises(ProviderUnavailable) as caught:
        await model.complete(_REQUEST)

    assert "secrets" not in str(caught.value)
