"""Ports for language models."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

from asynccoder.domain.ai import ChatRequest, ChatResponse, ModelRef, StreamEvent


class ChatModel(Protocol):
    """One provider's chat API.

    ``complete`` returns the whole turn; ``stream`` yields ``TextDelta``s then exactly one ``StreamDone``.
    Both retry transient failures (429 honouring ``retry-after``, 529/503, timeouts) with backoff up to the
    adapter's limit, then raise a ``ProviderError`` subclass from ``asynccoder.domain.ai``.
    """

    async def complete(self, request: ChatRequest) -> ChatResponse: ...

    def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]: ...


class ChatModelFactory(Protocol):
    """Builds a ``ChatModel`` for a model reference and the API key to use (the user's own or the platform's).

    The key is used for the calls only: never logged, never part of an error.
    """

    def create(self, ref: ModelRef, *, api_key: str) -> ChatModel: ...
