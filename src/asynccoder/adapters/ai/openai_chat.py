"""``ChatModel`` on OpenAI Chat Completions (official ``openai`` SDK), also for OpenAI-compatible servers."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import openai

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
    ChatRequest,
    ChatResponse,
    ContentBlock,
    Message,
    MessageRole,
    ProviderError,
    StopReason,
    StreamDone,
    StreamEvent,
    TextBlock,
    TextDelta,
    ToolCall,
    Usage,
)

_STOP_REASONS = {
    "stop": StopReason.END_TURN,
    "tool_calls": StopReason.TOOL_USE,
    "function_call": StopReason.TOOL_USE,
    "length": StopReason.MAX_TOKENS,
    "content_filter": StopReason.REFUSAL,
}


class OpenAIChatModel(RetryingChatModel):
    """GPT models (or any OpenAI-compatible endpoint) via Chat Completions, with tool calling and streaming.

    Usage: OpenAI's ``prompt_tokens`` include cached tokens; here ``input_tokens`` excludes them and
    ``cache_read_tokens`` holds ``prompt_tokens_details.cached_tokens`` (OpenAI reports no cache writes).
    A stop sequence that ended the turn is reported by OpenAI as ``stop`` (so ``END_TURN``).
    """

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str,
        options: CallOptions,
        http_client: httpx2.AsyncClient | None = None,
        provider_name: str = "openai",
    ) -> None:
        super().__init__(options)
        self.provider_name = provider_name
        self._client = openai.AsyncOpenAI(
            api_key=api_key,
            base_url=base_url,
            timeout=httpx2.Timeout(options.read_timeout, connect=options.connect_timeout),
            max_retries=0,
            http_client=http_client,
            organization=None,
            project=None,
        )

    @property
    def routes_by_cache_key(self) -> bool:
        """OpenAI's own API keeps requests with one ``prompt_cache_key`` on one prompt cache; compatible
        servers may reject the unknown field, so they get none (their caching, if any, is automatic)."""
        return self.provider_name == "openai"

    def _params(self, request: ChatRequest) -> dict[str, Any]:
        params = _params(request, legacy_max_tokens=self.provider_name != "openai")
        if request.cache_key and self.routes_by_cache_key:
            params["prompt_cache_key"] = request.cache_key
        return params

    def __repr__(self) -> str:
        return f"OpenAIChatModel(provider={self.provider_name!r}, base_url={str(self._client.base_url)!r})"

    async def _complete_once(self, request: ChatRequest) -> ChatResponse:
        completion = await self._client.chat.completions.create(**self._params(request))
        if not completion.choices:
            raise malformed(self.provider_name)
        choice = completion.choices[0]
        content: list[ContentBlock] = []
        if choice.message.content:
            content.append(TextBlock(choice.message.content))
        for call in choice.message.tool_calls or ():
            if call.type != "function":
                continue
            content.append(ToolCall(call.id, call.function.name, _arguments(call.function.arguments)))
        return ChatResponse(
            model=completion.model,
            content=tuple(content),
            stop_reason=_STOP_REASONS.get(choice.finish_reason or "", StopReason.OTHER),
            usage=_usage(completion.usage),
            provider_request_id=completion._request_id,
        )

    async def _stream_once(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        stream = await self._client.chat.completions.create(
            **self._params(request), stream=True, stream_options={"include_usage": True}
        )
        model = ""
        request_id = stream.response.headers.get("x-request-id")
        text: list[str] = []
        calls: dict[int, dict[str, str]] = {}
        finish_reason: str | None = None
        usage: Usage | None = None
        async with stream:
            async for chunk in stream:
                model = chunk.model or model
                if chunk.usage is not None:
                    usage = _usage(chunk.usage)
                for choice in chunk.choices:
                    if choice.index != 0:
                        continue
                    delta = choice.delta
                    if delta.content:
                        text.append(delta.content)
                        yield TextDelta(delta.content)
                    for call in delta.tool_calls or ():
                        slot = calls.setdefault(call.index, {"id": "", "name": "", "arguments": ""})
                        if call.id:
                            slot["id"] = call.id
                        if call.function is not None:
                            slot["name"] += call.function.name or ""
                            slot["arguments"] += call.function.arguments or ""
                    if choice.finish_reason:
                        finish_reason = choice.finish_reason
        if finish_reason is None or not model:
            raise malformed(self.provider_name)
        content: list[ContentBlock] = [TextBlock("".join(text))] if text else []
        for _, slot in sorted(calls.items()):
            content.append(ToolCall(slot["id"], slot["name"], _arguments(slot["arguments"])))
        response = ChatResponse(
            model=model,
            content=tuple(content),
            stop_reason=_STOP_REASONS.get(finish_reason, StopReason.OTHER),
            usage=usage or Usage(),
            provider_request_id=request_id,
        )
        yield StreamDone(response)

    def _translate(self, exc: Exception) -> ProviderError:
        name = self.provider_name
        if isinstance(exc, openai.APITimeoutError):
            return timed_out(name)
        if isinstance(exc, openai.APIConnectionError):
            return unreachable(name)
        if isinstance(exc, openai.APIStatusError):
            return error_for_status(
                name,
                exc.status_code,
                retry_after=parse_retry_after(exc.response.headers),
                context_overflow=looks_like_context_overflow(exc.code, _error_message(exc.body)),
            )
        return malformed(name)


def _params(request: ChatRequest, *, legacy_max_tokens: bool = False) -> dict[str, Any]:
    messages: list[dict[str, Any]] = []
    if request.system:
        messages.append({"role": "system", "content": request.system})
    for message in request.messages:
        messages.extend(_messages(message))
    params: dict[str, Any] = {
        "model": request.model,
        "messages": messages,
    }
    # OpenAI's reasoning models accept only ``max_completion_tokens``; many compatible servers know only
    # the older ``max_tokens``.
    params["max_tokens" if legacy_max_tokens else "max_completion_tokens"] = request.max_tokens
    if request.tools:
        params["tools"] = [
            {
                "type": "function",
                "function": {"name": t.name, "description": t.description, "parameters": t.input_schema},
            }
            for t in request.tools
        ]
    if request.temperature is not None:
        params["temperature"] = request.temperature
    if request.stop_sequences:
        params["stop"] = list(request.stop_sequences)
    return params


def _messages(message: Message) -> list[dict[str, Any]]:
    """One neutral message becomes one or more Chat Completions messages (each tool result is its own)."""
    texts = [b.text for b in message.content if isinstance(b, TextBlock)]
    if message.role is MessageRole.ASSISTANT:
        calls = [b for b in message.content if isinstance(b, ToolCall)]
        out: dict[str, Any] = {"role": "assistant", "content": "".join(texts) or None}
        if calls:
            out["tool_calls"] = [
                {
                    "id": c.id,
                    "type": "function",
                    "function": {"name": c.name, "arguments": json.dumps(c.arguments)},
                }
                for c in calls
            ]
        return [out]
    result: list[dict[str, Any]] = []
    for block in message.content:
        if isinstance(block, ToolCall):
            continue
        if not isinstance(block, TextBlock):
            content = f"Error: {block.content}" if block.is_error else block.content
            result.append({"role": "tool", "tool_call_id": block.tool_call_id, "content": content})
    if texts:
        result.append({"role": "user", "content": "".join(texts)})
    return result


def _arguments(raw: str) -> dict[str, Any]:
    arguments = json.loads(raw) if raw.strip() else {}
    if not isinstance(arguments, dict):
        raise ValueError("tool arguments are not a JSON object")
    return arguments


def _usage(raw: Any) -> Usage:
    if raw is None:
        return Usage()
    details = getattr(raw, "prompt_tokens_details", None)
    cached = (getattr(details, "cached_tokens", None) or 0) if details is not None else 0
    return Usage(
        input_tokens=max(0, (raw.prompt_tokens or 0) - cached),
        output_tokens=raw.completion_tokens or 0,
        cache_read_tokens=cached,
    )


def _error_message(body: object) -> str:
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict):
            return str(error.get("message", "")) + " " + str(error.get("code", ""))
    return ""
