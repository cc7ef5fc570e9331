"""A ``ChatModel`` that replays a script of turns: for tests and the offline embedded demo.

No network, no keys: each call takes the next turn of the script. A turn is a ``ChatResponse`` to return
(streamed word by word by ``stream``), a ``ScriptedTurn`` (a shorthand for one), or an exception to raise.
Every request received is recorded in ``requests``.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterable, Sequence
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

    def __init__(self, turns: Iterable[Turn] = ()) -> None:
        self._turns: list[Turn] = list(turns)
        self.requests: list[ChatRequest] = []

    def add(self, *turns: Turn) -> ScriptedChatModel:
        self._turns.extend(turns)
        return self

    @property
    def remaining(self) -> int:
        return len(self._turns)

    def _next(self, request: ChatRequest) -> ChatResponse:
        self.requests.append(request)
        if not self._turns:
            raise ProviderInvalidRequest(
                "the script has no more turns", provider="scripted", code="script_exhausted"
            )
        turn = self._turns.pop(0)
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


class ScriptedChatModelFactory(ChatModelFactory):
    """Hands out one ``ScriptedChatModel`` per model name (created empty on first use, or given up front).

    ``created`` records the references asked for and whether a key was supplied (never the key itself).
    """

    def __init__(self, models: dict[str, ScriptedChatModel] | None = None) -> None:
        self.models: dict[str, ScriptedChatModel] = dict(models or {})
        self.created: list[tuple[ModelRef, bool]] = []

    def model(self, name: str) -> ScriptedChatModel:
        return self.models.setdefault(name, ScriptedChatModel())

    def create(self, ref: ModelRef, *, api_key: str) -> ChatModel:
        self.created.append((ref, bool(api_key)))
        return self.model(ref.model)
