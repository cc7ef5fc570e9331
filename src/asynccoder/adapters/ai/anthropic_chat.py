"""``ChatModel`` on Anthropic's Messages API (the official ``anthropic`` SDK)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import anthropic
import httpx2

from asynccoder.adapters.ai.resilience import (
    CallOptions,
    RetryingChatModel,
    error_for_status,
    looks_like_context_overflow,
    malformed,
    parse_retry_after,
    timed_out,
    unreachable,
)
from asynccoder.domain.ai import (
    NATIVE_TEXT_EDITOR,
    ChatRequest,
    ChatResponse,
    ContentBlock,
    Message,
    ProviderError,
    StopReason,
    StreamDone,
    StreamEvent,
    TextBlock,
    TextDelta,
    ToolCall,
    ToolDefinition,
    Usage,
)

_STOP_REASONS = {
    "end_turn": StopReason.END_TURN,
    "tool_use": StopReason.TOOL_USE,
    "max_tokens": StopReason.MAX_TOKENS,
    "model_context_window_exceeded": StopReason.MAX_TOKENS,
    "stop_sequence": StopReason.STOP_SEQUENCE,
    "refusal": StopReason.REFUSAL,
}


class AnthropicChatModel(RetryingChatModel):
    """Claude models through the Messages API, with tool use and SSE streaming.

    Usage: ``input_tokens`` excludes cached tokens, which Anthropic reports separately as cache reads and
    cache writes (``cache_creation_input_tokens``).
    """

    provider_name = "anthropic"

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str,
        options: CallOptions,
        http_client: httpx2.AsyncClient | None = None,
    ) -> None:
        super().__init__(options)
        self._client = anthropic.AsyncAnthropic(
            api_key=api_key,
            base_url=base_url,
            timeout=httpx2.Timeout(options.read_timeout, connect=options.connect_timeout),
            max_retries=0,
            http_client=http_client,
        )

    def __repr__(self) -> str:
        return f"AnthropicChatModel(base_url={str(self._client.base_url)!r})"

    async def _complete_once(self, request: ChatRequest) -> ChatResponse:
        message = await self._client.messages.create(**_params(request))
        ours = {wire: name for name, wire in _wire_names(request).items()}
        return ChatResponse(
            model=message.model,
            content=tuple(_block(b, ours) for b in message.content if b.type in {"text", "tool_use"}),
            stop_reason=_stop_reason(message.stop_reason),
            usage=_usage(message.usage),
            provider_request_id=message._request_id,
        )

    async def _stream_once(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        stream = await self._client.messages.create(**_params(request), stream=True)
        ours = {wire: name for name, wire in _wire_names(request).items()}
        model = ""
        request_id = stream.response.headers.get("request-id")
        usage = Usage()
        stop_reason = StopReason.OTHER
        blocks: dict[int, dict[str, Any]] = {}
        finished = False
        async with stream:
            async for event in stream:
                if event.type == "message_start":
                    model = event.message.model
                    usage = _usage(event.message.usage)
                elif event.type == "content_block_start":
                    block = event.content_block
                    if block.type == "text":
                        blocks[event.index] = {"type": "text", "text": block.text}
                        if block.text:
                            yield TextDelta(block.text)
                    elif block.type == "tool_use":
                        blocks[event.index] = {
                            "type": "tool_use",
                            "id": block.id,
                            "name": block.name,
                            "json": "",
                        }
                elif event.type == "content_block_delta":
                    delta = event.delta
                    if delta.type == "text_delta":
                        blocks[event.index]["text"] += delta.text
                        yield TextDelta(delta.text)
                    elif delta.type == "input_json_delta":
                        blocks[event.index]["json"] += delta.partial_json
                elif event.type == "message_delta":
                    stop_reason = _stop_reason(event.delta.stop_reason)
                    usage = Usage(
                        input_tokens=event.usage.input_tokens or usage.input_tokens,
                        output_tokens=event.usage.output_tokens,
                        cache_read_tokens=event.usage.cache_read_input_tokens or usage.cache_read_tokens,
                        cache_write_tokens=event.usage.cache_creation_input_tokens
                        or usage.cache_write_tokens,
                    )
                elif event.type == "message_stop":
                    finished = True
        if not finished or not model:
            raise malformed(self.provider_name)
        content: list[ContentBlock] = []
        for _, raw in sorted(blocks.items()):
            if raw["type"] == "text":
                content.append(TextBlock(raw["text"]))
            else:
                arguments = json.loads(raw["json"]) if raw["json"] else {}
                if not isinstance(arguments, dict):
                    raise malformed(self.provider_name)
                content.append(ToolCall(raw["id"], ours.get(raw["name"], raw["name"]), arguments))
        yield StreamDone(ChatResponse(model, tuple(content), stop_reason, usage, request_id))

    def _translate(self, exc: Exception) -> ProviderError:
        name = self.provider_name
        if isinstance(exc, anthropic.APITimeoutError):
            return timed_out(name)
        if isinstance(exc, anthropic.APIConnectionError):
            return unreachable(name)
        if isinstance(exc, anthropic.APIStatusError):
            error_type = _error_type(exc.body)
            status = exc.status_code
            if status == 200:  # an ``event: error`` inside a stream
                status = {"overloaded_error": 529, "rate_limit_error": 429, "api_error": 500}.get(
                    error_type, 500
                )
            return error_for_status(
                name,
                status,
                retry_after=parse_retry_after(exc.response.headers),
                context_overflow=looks_like_context_overflow(_error_message(exc.body)),
                overloaded=error_type == "overloaded_error",
            )
        return malformed(name)


_EPHEMERAL = {"type": "ephemeral"}
MAX_CACHE_BREAKPOINTS = 4  # Anthropic's limit per request


# Anthropic's text editor tool as Claude 4 and later models are trained on it (anthropic SDK type
# ``ToolTextEditor20250728Param``): the name is fixed, there is no schema or description to send.
TEXT_EDITOR_TYPE = "text_editor_20250728"
TEXT_EDITOR_NAME = "str_replace_based_edit_tool"


def supports_native_text_editor(model: str) -> bool:
    """Whether ``model`` takes ``text_editor_20250728``: every Claude model from Claude 4 on. Decided by the
    families that lack it (Claude 3.x and older), so a new model name keeps the native tool."""
    name = model.lower()
    return name.startswith("claude") and not name.startswith(("claude-3", "claude-2", "claude-instant"))


def _wire_names(request: ChatRequest) -> dict[str, str]:
    """Our tool names that go to the API under another name (the native text editor's)."""
    if not supports_native_text_editor(request.model):
        return {}
    editors = [t.name for t in request.tools if t.native == NATIVE_TEXT_EDITOR]
    return {editors[0]: TEXT_EDITOR_NAME} if len(editors) == 1 else {}


def _tool(tool: ToolDefinition, wire_names: dict[str, str]) -> dict[str, Any]:
    if tool.name in wire_names:
        return {"type": TEXT_EDITOR_TYPE, "name": TEXT_EDITOR_NAME}
    return {"name": tool.name, "description": tool.description, "input_schema": tool.input_schema}


def _params(request: ChatRequest) -> dict[str, Any]:
    wire_names = _wire_names(request)
    messages = [_message(m, wire_names) for m in request.messages]
    params: dict[str, Any] = {
        "model": request.model,
        "max_tokens": request.max_tokens,
        "messages": messages,
    }
    if request.system:
        if request.cache_prefix:
            params["system"] = [{"type": "text", "text": request.system, "cache_control": _EPHEMERAL}]
        else:
            params["system"] = request.system
    if request.tools:
        params["tools"] = [_tool(t, wire_names) for t in request.tools]
        if request.cache_prefix:
            params["tools"][-1]["cache_control"] = _EPHEMERAL
    if request.cache_prefix:
        _mark_latest_turns(messages, MAX_CACHE_BREAKPOINTS - bool(request.system) - bool(request.tools))
    if request.temperature is not None:
        params["temperature"] = request.temperature
    if request.stop_sequences:
        params["stop_sequences"] = list(request.stop_sequences)
    return params


def _mark_latest_turns(messages: list[dict[str, Any]], available: int) -> None:
    """Breakpoints on the last block of the last two user turns (the newest tool results or instructions).

    The newest one writes the whole conversation to the cache; the one before is where the previous call
    wrote, so the next call reads it even when the history grew by many blocks since. Cache order is tools,
    system, messages, so these prefixes include the tools and the system prompt.
    """
    marked = 0
    for message in reversed(messages):
        if marked >= min(2, available):
            return
        if message["role"] == "user" and message["content"]:
            message["content"][-1]["cache_control"] = _EPHEMERAL
            marked += 1


def _message(message: Message, wire_names: dict[str, str]) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    for block in message.content:
        if isinstance(block, TextBlock):
            content.append({"type": "text", "text": block.text})
        elif isinstance(block, ToolCall):
            name = wire_names.get(block.name, block.name)
            content.append({"type": "tool_use", "id": block.id, "name": name, "input": block.arguments})
        else:
            content.append(
                {
                    "type": "tool_result",
                    "tool_use_id": block.tool_call_id,
                    "content": block.content,
                    "is_error": block.is_error,
                }
            )
    return {"role": message.role.value, "content": content}


def _block(block: Any, ours: dict[str, str]) -> ContentBlock:
    if block.type == "text":
        return TextBlock(block.text)
    return ToolCall(block.id, ours.get(block.name, block.name), dict(block.input))


def _stop_reason(raw: str | None) -> StopReason:
    return _STOP_REASONS.get(raw or "", StopReason.OTHER)


def _usage(raw: Any) -> Usage:
    return Usage(
        input_tokens=raw.input_tokens or 0,
        output_tokens=raw.output_tokens or 0,
        cache_read_tokens=raw.cache_read_input_tokens or 0,
        cache_write_tokens=raw.cache_creation_input_tokens or 0,
    )


def _error_type(body: object) -> str:
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and isinstance(error.get("type"), str):
            return str(error["type"])
    return ""


def _error_message(body: object) -> str:
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            return str(error.get("message", ""))
    return ""
