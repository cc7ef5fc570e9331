"""A test double of the ChatModel port: answers or fails as told and records what it was asked."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from asynccoder.application.ports.ai import (
    ChatModel,
    ChatModelFactory,
)
from asynccoder.domain.ai import (
    ChatRequest,
    ChatResponse,
    ModelRef,
    StopReason,
    StreamDone,
    StreamEvent,
    TextBlock,
    TextDelta,
    Usage,
)

# Decides the outcome of one call from the reference and key: return None to answer, or an exception to raise.
Behaviour = Callable[[ModelRef, str], Exception | None]


@dataclass
class RecordedCall:
    ref: ModelRef
    api_key: str
    request: ChatRequest


@dataclass
class FakeChatModelFactory(ChatModelFactory):
    """Every model answers "pong" unless ``behaviour`` returns an exception for that (ref, key)."""

    behaviour: Behaviour = lambda ref, key: None
    calls: list[RecordedCall] = field(default_factory=list)

    def create(self, ref: ModelRef, *, api_key: str) -> ChatModel:
        return _FakeChatModel(self, ref, api_key)


class _FakeChatModel(ChatModel):
    def __init__(self, factory: FakeChatModelFactory, ref: ModelRef, api_key: str) -> None:
        self._factory, self._ref, self._key = factory, ref, api_key

    async def complete(self, request: ChatRequest) -> ChatResponse:
        self._factory.calls.append(RecordedCall(self._ref, self._key, request))
        error = self._factory.behaviour(self._ref, self._key)
        if error is not None:
            raise error
        return ChatResponse(
            model=self._ref.model,
            content=(TextBlock("pong"),),
            stop_reason=StopReason.END_TURN,
            usage=Usage(input_tokens=12, output_tokens=1),
        )

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        response = await self.complete(request)
        yield TextDelta(response.text)
        yield StreamDone(response)
