"""CompleteWithFallback / StreamWithFallback driven with scripted models and a manual clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from asynccoder.adapters.ai.scripted import ScriptedChatModelFactory, text_turn
from asynccoder.application.ai.complete_with_fallback import (
    Candidate,
    CompleteWithFallback,
    CompleteWithFallbackInput,
    FallbackExhausted,
    FallbackStreamDone,
    StreamWithFallback,
)
from asynccoder.application.ports.ai import ChatModel
from asynccoder.domain.ai import (
    ChatRequest,
    ChatResponse,
    ContextTooLong,
    Message,
    ModelRef,
    Provider,
    ProviderAuthError,
    ProviderError,
    ProviderInvalidRequest,
    ProviderOverloaded,
    ProviderRateLimited,
    ProviderUnavailable,
    StreamDone,
    StreamEvent,
    TextDelta,
    Usage,
)
from tests.support.system import ManualClock

CLAUDE = Candidate(ModelRef(Provider.ANTHROPIC, "claude-sonnet-4-6"), "sk-ant-user", "byok")
GPT = Candidate(ModelRef(Provider.OPENAI, "gpt-4.1"), "sk-platform", "platform")
GEMINI = Candidate(ModelRef(Provider.GEMINI, "gemini-2.5-pro"), "gm-platform", "platform")
REQUEST = ChatRequest(model="ignored", messages=(Message.user("hi"),))


def command(*candidates: Candidate) -> CompleteWithFallbackInput:
    return CompleteWithFallbackInput(candidates, REQUEST)


class SlowModel(ChatModel):
    """Moves the manual clock while it "works", then delegates."""

    def __init__(self, clock: ManualClock, inner: ChatModel, millis: int) -> None:
        self._clock, self._inner, self._millis = clock, inner, millis

    async def complete(self, request: ChatRequest) -> ChatResponse:
        self._clock.advance(timedelta(milliseconds=self._millis))
        return await self._inner.complete(request)

    def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        return self._inner.stream(request)


async def test_the_first_candidate_that_answers_is_used_and_the_request_model_is_replaced() -> None:
    models = ScriptedChatModelFactory()
    models.model("claude-sonnet-4-6").add(text_turn("hello", Usage(3, 2)))
    use_case = CompleteWithFallback(models, ManualClock())

    result = await use_case(command(CLAUDE, GPT))

    assert result.response.text == "hello"
    assert result.response.model == "claude-sonnet-4-6"
    assert result.candidate == CLAUDE
    assert [(a.ref.model, a.outcome) for a in result.attempts] == [("claude-sonnet-4-6", "ok")]
    assert models.model("claude-sonnet-4-6").requests[0].model == "claude-sonnet-4-6"
    assert models.created == [(CLAUDE.ref, True)]


@pytest.mark.parametrize(
    "failure",
    [
        ProviderRateLimited("x", retry_after=3),
        ProviderOverloaded("x"),
        ProviderUnavailable("x"),
        ProviderAuthError("x"),
    ],
    ids=lambda e: type(e).__name__,
)
async def test_provider_side_failures_move_to_the_next_candidate(failure: ProviderError) -> None:
    models = ScriptedChatModelFactory()
    models.model("claude-sonnet-4-6").add(failure)
    models.model("gpt-4.1").add(text_turn("from gpt", Usage(7, 1)))

    result = await CompleteWithFallback(models, ManualClock())(command(CLAUDE, GPT))

    assert result.response.model == "gpt-4.1"
    assert result.response.usage == Usage(7, 1)
    assert result.candidate.label == "platform"
    assert [(a.label, a.outcome) for a in result.attempts] == [("byok", failure.code), ("platform", "ok")]


@pytest.mark.parametrize(
    "failure", [ContextTooLong("x"), ProviderInvalidRequest("x")], ids=lambda e: type(e).__name__
)
async def test_request_problems_stop_the_chain_without_trying_other_candidates(
    failure: ProviderError,
) -> None:
    models = ScriptedChatModelFactory()
    models.model("claude-sonnet-4-6").add(failure)
    models.model("gpt-4.1").add(text_turn("never"))

    with pytest.raises(FallbackExhausted) as caught:
        await CompleteWithFallback(models, ManualClock())(command(CLAUDE, GPT))

    assert caught.value.last is failure
    assert caught.value.code == failure.code
    assert [a.outcome for a in caught.value.attempts] == [failure.code]
    assert models.model("gpt-4.1").requests == []


async def test_when_every_candidate_fails_the_last_error_and_all_attempts_are_reported() -> None:
    models = ScriptedChatModelFactory()
    models.model("claude-sonnet-4-6").add(ProviderOverloaded("x"))
    models.model("gpt-4.1").add(ProviderRateLimited("x", retry_after=9))
    models.model("gemini-2.5-pro").add(ProviderUnavailable("x"))

    with pytest.raises(FallbackExhausted) as caught:
        await CompleteWithFallback(models, ManualClock())(command(CLAUDE, GPT, GEMINI))

    assert isinstance(caught.value.last, ProviderUnavailable)
    assert caught.value.retryable
    assert [a.outcome for a in caught.value.attempts] == [
        "provider_overloaded",
        "provider_rate_limited",
        "provider_unavailable",
    ]


async def test_an_empty_chain_is_no_model_available() -> None:
    with pytest.raises(ProviderUnavailable) as caught:
        await CompleteWithFallback(ScriptedChatModelFactory(), ManualClock())(command())

    assert caught.value.code == "no_model_available"


async def test_latency_of_each_attempt_comes_from_the_clock() -> None:
    clock = ManualClock()
    scripted = ScriptedChatModelFactory()
    scripted.model("gpt-4.1").add(text_turn("ok"))

    class Slow(ScriptedChatModelFactory):
        def create(self, ref: ModelRef, *, api_key: str) -> ChatModel:
            return SlowModel(clock, scripted.create(ref, api_key=api_key), 250)

    result = await CompleteWithFallback(Slow(), clock)(command(GPT))

    assert result.attempts[0].latency_ms == 250


async def test_the_api_key_is_not_part_of_a_candidates_repr() -> None:
    assert "sk-ant-user" not in repr(CLAUDE)
    assert "sk-ant-user" not in repr(command(CLAUDE))


async def collect(
    stream: AsyncIterator[TextDelta | FallbackStreamDone],
) -> list[TextDelta | FallbackStreamDone]:
    return [event async for event in stream]


async def test_streaming_falls_back_before_any_text_was_yielded() -> None:
    models = ScriptedChatModelFactory()
    models.model("claude-sonnet-4-6").add(ProviderOverloaded("x"))
    models.model("gpt-4.1").add(text_turn("two words", Usage(4, 2)))

    events = await collect(StreamWithFallback(models, ManualClock())(command(CLAUDE, GPT)))

    assert [e.text for e in events if isinstance(e, TextDelta)] == ["two ", "words"]
    done = events[-1]
    assert isinstance(done, FallbackStreamDone)
    assert done.result.response.model == "gpt-4.1"
    assert [a.outcome for a in done.result.attempts] == ["provider_overloaded", "ok"]


class BreaksMidStream(ChatModel):
    async def complete(self, request: ChatRequest) -> ChatResponse:
        raise NotImplementedError

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        yield TextDelta("partial ")
        raise ProviderUnavailable("connection dropped")


async def test_a_failure_after_text_was_streamed_is_final() -> None:
    scripted = ScriptedChatModelFactory()
    scripted.model("gpt-4.1").add(text_turn("never"))

    class Factory(ScriptedChatModelFactory):
        def create(self, ref: ModelRef, *, api_key: str) -> ChatModel:
            return (
                BreaksMidStream()
                if ref.provider is Provider.ANTHROPIC
                else scripted.create(ref, api_key=api_key)
            )

    seen: list[object] = []
    with pytest.raises(FallbackExhausted) as caught:
        async for event in StreamWithFallback(Factory(), ManualClock())(command(CLAUDE, GPT)):
            seen.append(event)

    assert seen == [TextDelta("partial ")]
    assert isinstance(caught.value.last, ProviderUnavailable)
    assert scripted.model("gpt-4.1").requests == []


async def test_a_scripted_model_streams_its_turn_word_by_word_then_the_response() -> None:
    models = ScriptedChatModelFactory()
    models.model("m").add(text_turn("a b  c"))

    events = [e async for e in models.model("m").stream(REQUEST)]

    assert [e.text for e in events if isinstance(e, TextDelta)] == ["a ", "b  ", "c"]
    assert isinstance(events[-1], StreamDone)
    assert events[-1].response.text == "a b  c"


async def test_a_scripted_model_past_its_script_refuses() -> None:
    with pytest.raises(ProviderInvalidRequest) as caught:
        await ScriptedChatModelFactory().model("m").complete(REQUEST)

    assert caught.value.code == "script_exhausted"
