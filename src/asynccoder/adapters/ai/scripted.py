"""A ``ChatModel`` that replays a script of turns: for tests and the offline embedded demo.

No network, no keys: each call takes the next turn of the script. A turn is a ``ChatResponse`` to return
(streamed word by word by ``stream``), a ``ScriptedTurn`` (a shorthand for one), or an exception to raise;
past the script a model answers its ``default`` turn, if it has one. Every request received is recorded in
``requests``; the factory also records each call with the reference and key it was made with (in memory only,
the key kept out of ``repr``) and can fail calls by reference and key (``behaviour``).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from asynccoder.application.ports.ai import (
    ChatModel,
    ChatModelFactory,
)
from asynccoder.domain.ai import (
    ChatRequest,
    ChatResponse,
    ContentBlock,
    ModelRef,
    ProviderInvalidRequest,
    StopReason,
    StreamDone,
    StreamEvent,
    TextBlock,
    TextDelta,
    ToolCall,
    Usage,
)


@dataclass(frozen=True, slots=True)
class ScriptedTurn:
    """One scripted answer: text and/or tool calls; the answering model defaults to the requested one."""

    text: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    usage: Usage = field(default_factory=lambda: Usage(10, 5))
    stop_reason: StopReason | None = None
    model: str | None = None

    def response_for(self, request: ChatRequest) -> ChatResponse:
        content: list[ContentBlock] = [TextBlock(self.text)] if self.text else []
        content.extend(self.tool_calls)
        reason = self.stop_reason or (StopReason.TOOL_USE if self.tool_calls else StopReason.END_TURN)
        return ChatResponse(self.model or request.model, tuple(content), reason, self.usage, None)


Turn = ChatResponse | ScriptedTurn | BaseException


def text_turn(text: str, usage: Usage | None = None) -> ScriptedTurn:
    return ScriptedTurn(text=text, usage=usage or Usage(10, 5))


def tool_turn(
    name: str, arguments: dict[str, Any], *, call_id: str = "call_1", text: str = ""
) -> ScriptedTurn:
    return ScriptedTurn(text=text, tool_calls=(ToolCall(call_id, name, arguments),))


class ScriptedChatModel(ChatModel):
    """Replays ``turns`` in order; past the end raises ``ProviderInvalidRequest`` (``script_exhausted``)."""

    def __init__(self, turns: Iterable[Turn] = (), *, default: Turn | None = None) -> None:
        self._turns: list[Turn] = list(turns)
        self._default = default
        self.requests: list[ChatRequest] = []

    def add(self, *turns: Turn) -> ScriptedChatModel:
        self._turns.extend(turns)
        return self

    @property
    def remaining(self) -> int:
        return len(self._turns)

    def _next(self, request: ChatRequest) -> ChatResponse:
        self.requests.append(request)
        if self._turns:
            turn = self._turns.pop(0)
        elif self._default is not None:
            turn = self._default
        else:
            raise ProviderInvalidRequest(
                "the script has no more turns", provider="scripted", code="script_exhausted"
            )
        if isinstance(turn, BaseException):
            raise turn
        if isinstance(turn, ScriptedTurn):
            return turn.response_for(request)
        return turn

    async def complete(self, request: ChatRequest) -> ChatResponse:
        return self._next(request)

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        response = self._next(request)
        for piece in _pieces(response.text):
            yield TextDelta(piece)
        yield StreamDone(response)


def _pieces(text: str) -> Sequence[str]:
    return re.findall(r"\S+\s*|\s+", text)


# Decides the outcome of one call from the reference and key: None to answer, or an exception to raise.
Behaviour = Callable[[ModelRef, str], BaseException | None]


@dataclass(frozen=True, slots=True)
class RecordedCall:
    ref: ModelRef
    api_key: str = field(repr=False)
    request: ChatRequest


class ScriptedChatModelFactory(ChatModelFactory):
    """Hands out one ``ScriptedChatModel`` per model name (created on first use with the ``default`` turn, or
    given up front). ``created`` records the references asked for and whether a key was supplied, ``calls``
    every call with its reference and key; ``behaviour`` may fail a call for its reference and key before the
    model answers."""

    def __init__(
        self,
        models: dict[str, ScriptedChatModel] | None = None,
        *,
        default: Turn | None = None,
        behaviour: Behaviour | None = None,
    ) -> None:
        self.models: dict[str, ScriptedChatModel] = dict(models or {})
        self.default = default
        self.behaviour: Behaviour = behaviour or (lambda ref, key: None)
        self.created: list[tuple[ModelRef, bool]] = []
        self.calls: list[RecordedCall] = []

    def model(self, name: str) -> ScriptedChatModel:
        return self.models.setdefault(name, ScriptedChatModel(default=self.default))

    def create(self, ref: ModelRef, *, api_key: str) -> ChatModel:
        self.created.append((ref, bool(api_key)))
        return _KeyedModel(self, ref, api_key)


class _KeyedModel(ChatModel):
    """The factory's model for one reference and key: records the call, applies ``behaviour``, delegates."""

    def __init__(self, factory: ScriptedChatModelFactory, ref: ModelRef, api_key: str) -> None:
        self._factory, self._ref, self._key = factory, ref, api_key

    def _call(self, request: ChatRequest) -> ScriptedChatModel:
        self._factory.calls.append(RecordedCall(self._ref, self._key, request))
        error = self._factory.behaviour(self._ref, self._key)
        if error is not None:
            raise error
        return self._factory.model(self._ref.model)

    async def complete(self, request: ChatRequest) -> ChatResponse:
        return await self._call(request).complete(request)

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        async for event in self._call(request).stream(request):
            yield event
