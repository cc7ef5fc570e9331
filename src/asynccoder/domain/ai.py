"""Provider-neutral language-model vocabulary: messages, tools, usage, errors and tiers.

Model prices are integer micro-USD per million tokens; charges are whole credits (the unit is
``asynccoder.domain.billing.MICRO_USD_PER_CREDIT``), rounded up per call so the platform never under-charges.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from asynccoder.domain.errors import DomainError


class Provider(enum.StrEnum):
    ANTHROPIC = "anthropic"
    OPENAI = "openai"
    GEMINI = "gemini"
    OPENAI_COMPATIBLE = "openai_compatible"


class ModelTier(enum.StrEnum):
    """Plans allow tiers; every catalogued model belongs to one."""

    ECONOMY = "economy"
    STANDARD = "standard"
    PREMIUM = "premium"


class MessageRole(enum.StrEnum):
    USER = "user"
    ASSISTANT = "assistant"


class StopReason(enum.StrEnum):
    END_TURN = "end_turn"
    TOOL_USE = "tool_use"
    MAX_TOKENS = "max_tokens"
    STOP_SEQUENCE = "stop_sequence"
    REFUSAL = "refusal"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class TextBlock:
    text: str


@dataclass(frozen=True, slots=True)
class ToolCall:
    """The model asks to run tool ``name`` with ``arguments``; ``id`` pairs it with its result."""

    id: str
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ToolResult:
    tool_call_id: str
    content: str
    is_error: bool = False


ContentBlock = TextBlock | ToolCall | ToolResult


@dataclass(frozen=True, slots=True)
class Message:
    role: MessageRole
    content: tuple[ContentBlock, ...]

    @staticmethod
    def user(text: str) -> Message:
        return Message(MessageRole.USER, (TextBlock(text),))

    @staticmethod
    def assistant(text: str) -> Message:
        return Message(MessageRole.ASSISTANT, (TextBlock(text),))


@dataclass(frozen=True, slots=True)
class ToolDefinition:
    """A tool the model may call; ``input_schema`` is a JSON Schema object.

    ``native`` names a provider-native tool whose interface this one implements exactly (``"text_editor"``:
    Anthropic's text editor, commands view/create/str_replace/insert with the same argument names); a
    provider adapter whose model supports it may offer the native tool instead and map its calls back to
    ``name``.
    """

    name: str
    description: str
    input_schema: dict[str, Any]
    native: str | None = None


NATIVE_TEXT_EDITOR = "text_editor"


@dataclass(frozen=True, slots=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cache_read_tokens + other.cache_read_tokens,
            self.cache_write_tokens + other.cache_write_tokens,
        )


@dataclass(frozen=True, slots=True)
class ChatRequest:
    model: str
    messages: tuple[Message, ...]
    system: str | None = None
    tools: tuple[ToolDefinition, ...] = ()
    max_tokens: int = 4096
    temperature: float | None = None
    stop_sequences: tuple[str, ...] = ()
    # Prompt caching. ``cache_key`` names the conversation (the task id) so a provider that routes by
    # key (OpenAI's ``prompt_cache_key``) keeps it on one cache; ``cache_prefix`` asks providers that need
    # explicit breakpoints (Anthropic's ``cache_control``) to mark the stable prefix: the tools, the system
    # prompt and the latest turns. Providers with implicit caching (Gemini) need neither.
    cache_key: str | None = None
    cache_prefix: bool = False


@dataclass(frozen=True, slots=True)
class ChatResponse:
    """One completed model turn; ``model`` is the model that actually answered, as the provider reports it."""

    model: str
    content: tuple[ContentBlock, ...]
    stop_reason: StopReason
    usage: Usage
    provider_request_id: str | None = None

    @property
    def text(self) -> str:
        return "".join(b.text for b in self.content if isinstance(b, TextBlock))

    @property
    def tool_calls(self) -> tuple[ToolCall, ...]:
        return tuple(b for b in self.content if isinstance(b, ToolCall))


@dataclass(frozen=True, slots=True)
class TextDelta:
    """A piece of streamed text."""

    text: str


@dataclass(frozen=True, slots=True)
class StreamDone:
    """The last event of a stream: the whole response."""

    response: ChatResponse


StreamEvent = TextDelta | StreamDone


# Errors every provider's failures are mapped to. Messages never contain keys or raw provider bodies.
class ProviderError(DomainError):
    code = "provider_error"
    retryable: bool = False

    def __init__(self, message: str, *, provider: str = "", code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.provider = provider


class ProviderAuthError(ProviderError):
    code = "provider_auth_failed"


class ProviderRateLimited(ProviderError):
    code = "provider_rate_limited"
    retryable = True

    def __init__(self, message: str, *, provider: str = "", retry_after: float | None = None) -> None:
        super().__init__(message, provider=provider)
        self.retry_after = retry_after


class ProviderOverloaded(ProviderError):
    code = "provider_overloaded"
    retryable = True


class ContextTooLong(ProviderError):
    code = "context_too_long"


class ProviderInvalidRequest(ProviderError):
    code = "provider_invalid_request"


class ProviderUnavailable(ProviderError):
    """Timeouts, connection failures, 5xx, malformed responses."""

    code = "provider_unavailable"
    retryable = True


@dataclass(frozen=True, slots=True)
class ModelRef:
    """Which model of which provider, and where to reach it."""

    provider: Provider
    model: str
    base_url: str | None = field(default=None)
