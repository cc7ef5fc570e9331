"""``ChatModel`` on the Gemini API (the official ``google-genai`` SDK)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import httpx2
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

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
    "STOP": StopReason.END_TURN,
    "MAX_TOKENS": StopReason.MAX_TOKENS,
    "SAFETY": StopReason.REFUSAL,
    "RECITATION": StopReason.REFUSAL,
    "PROHIBITED_CONTENT": StopReason.REFUSAL,
    "BLOCKLIST": StopReason.REFUSAL,
    "SPII": StopReason.REFUSAL,
}
_TIMEOUTS = (httpx2.TimeoutException, httpx.TimeoutException)
_TRANSPORT = (httpx2.TransportError, httpx.TransportError)


class GeminiChatModel(RetryingChatModel):
    """Gemini models through ``generateContent`` / ``streamGenerateContent`` with function calling.

    Gemini function calls may come without ids: the adapter then names them ``gemini-call-<n>`` and, when a
    tool result goes back, finds the function name from the matching call in the conversation. Usage:
    ``input_tokens`` = prompt tokens minus cached tokens (``cachedContentTokenCount`` -> cache reads);
    ``output_tokens`` = candidate tokens plus thinking tokens (both billed as output). Prompt caching is
    implicit on Gemini 2.5+: ``ChatRequest.cache_key`` and ``cache_prefix`` need nothing sent.
    """

    provider_name = "gemini"

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str,
        options: CallOptions,
        http_client: httpx2.AsyncClient | None = None,
    ) -> None:
        super().__init__(options)
        self._base_url = base_url
        http_options = types.HttpOptions(
            base_url=base_url,
            timeout=int(options.read_timeout * 1000),
            httpx_async_client=http_client,
        )
        self._client = genai.Client(api_key=api_key, vertexai=False, http_options=http_options)

    def __repr__(self) -> str:
        return f"GeminiChatModel(base_url={self._base_url!r})"

    async def _complete_once(self, request: ChatRequest) -> ChatResponse:
        response = await self._client.aio.models.generate_content(
            model=request.model, contents=_contents(request), config=_config(request)
        )
        content, stop_reason = _parse(response)
        if response.model_version is None and not content:
            raise malformed(self.provider_name)
        return ChatResponse(
            model=response.model_version or request.model,
            content=tuple(content),
            stop_reason=stop_reason,
            usage=_usage(response.usage_metadata),
            provider_request_id=response.response_id,
        )

    async def _stream_once(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        chunks = await self._client.aio.models.generate_content_stream(
            model=request.model, contents=_contents(request), config=_config(request)
        )
        text: list[str] = []
        calls: list[ContentBlock] = []
        model: str | None = None
        request_id: str | None = None
        usage = Usage()
        stop_reason: StopReason | None = None
        async for chunk in chunks:
            model = chunk.model_version or model
            request_id = chunk.response_id or request_id
            if chunk.usage_metadata is not None:
                usage = _usage(chunk.usage_metadata)
            content, reason = _parse(chunk, offset=len(calls))
            for block in content:
                if isinstance(block, TextBlock):
                    text.append(block.text)
                    yield TextDelta(block.text)
                else:
                    calls.append(block)
            if _finish_reason(chunk) is not None:
                stop_reason = reason
        if stop_reason is None:
            raise malformed(self.provider_name)
        if stop_reason is StopReason.END_TURN and calls:
            stop_reason = StopReason.TOOL_USE
        content_blocks: list[ContentBlock] = [TextBlock("".join(text))] if text else []
        yield StreamDone(
            ChatResponse(model or request.model, (*content_blocks, *calls), stop_reason, usage, request_id)
        )

    def _translate(self, exc: Exception) -> ProviderError:
        name = self.provider_name
        if isinstance(exc, _TIMEOUTS):
            return timed_out(name)
        if isinstance(exc, _TRANSPORT):
            return unreachable(name)
        if isinstance(exc, genai_errors.APIError):
            headers = getattr(exc.response, "headers", None)
            status = int(exc.code or 500)
            if status == 400 and "API_KEY_INVALID" in str(exc.details):
                status = 401  # Gemini reports a wrong key as a 400 with reason API_KEY_INVALID
            return error_for_status(
                name,
                status,
                retry_after=parse_retry_after(headers) if headers is not None else None,
                context_overflow=looks_like_context_overflow(exc.message),
            )
        return malformed(name)


def _config(request: ChatRequest) -> types.GenerateContentConfig:
    tools: list[Any] | None = None  # the SDK wants its invariant union list
    if request.tools:
        tools = [
            types.Tool(
                function_declarations=[
                    types.FunctionDeclaration(
                        name=t.name, description=t.description, parameters_json_schema=t.input_schema
                    )
                    for t in request.tools
                ]
            )
        ]
    return types.GenerateContentConfig(
        system_instruction=request.system or None,
        tools=tools,
        max_output_tokens=request.max_tokens,
        temperature=request.temperature,
        stop_sequences=list(request.stop_sequences) or None,
        automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
    )


def _contents(request: ChatRequest) -> list[types.Content]:
    names = {
        block.id: block.name
        for message in request.messages
        for block in message.content
        if isinstance(block, ToolCall)
    }
    return [_content(message, names) for message in request.messages]


def _content(message: Message, names: dict[str, str]) -> types.Content:
    parts: list[types.Part] = []
    for block in message.content:
        if isinstance(block, TextBlock):
            parts.append(types.Part(text=block.text))
        elif isinstance(block, ToolCall):
            call_id = None if block.id.startswith("gemini-call-") else block.id
            parts.append(
                types.Part(
                    function_call=types.FunctionCall(id=call_id, name=block.name, args=block.arguments)
                )
            )
        else:
            key = "error" if block.is_error else "output"
            call_id = None if block.tool_call_id.startswith("gemini-call-") else block.tool_call_id
            parts.append(
                types.Part(
                    function_response=types.FunctionResponse(
                        id=call_id,
                        name=names.get(block.tool_call_id, "tool"),
                        response={key: block.content},
                    )
                )
            )
    return types.Content(role="model" if message.role is MessageRole.ASSISTANT else "user", parts=parts)


def _finish_reason(response: types.GenerateContentResponse) -> str | None:
    if not response.candidates:
        return None
    reason = response.candidates[0].finish_reason
    return None if reason is None else str(getattr(reason, "value", reason))


def _parse(response: types.GenerateContentResponse, offset: int = 0) -> tuple[list[ContentBlock], StopReason]:
    content: list[ContentBlock] = []
    candidate = response.candidates[0] if response.candidates else None
    parts = candidate.content.parts if candidate and candidate.content and candidate.content.parts else []
    for part in parts:
        if part.thought:
            continue
        if part.function_call is not None:
            call = part.function_call
            call_id = call.id or f"gemini-call-{offset + sum(isinstance(b, ToolCall) for b in content)}"
            content.append(ToolCall(call_id, call.name or "", dict(call.args or {})))
        elif part.text:
            content.append(TextBlock(part.text))
    raw = _finish_reason(response) or ""
    stop_reason = _STOP_REASONS.get(raw, StopReason.OTHER)
    if stop_reason is StopReason.END_TURN and any(isinstance(b, ToolCall) for b in content):
        stop_reason = StopReason.TOOL_USE
    return content, stop_reason


def _usage(meta: Any) -> Usage:
    if meta is None:
        return Usage()
    cached = meta.cached_content_token_count or 0
    return Usage(
        input_tokens=max(0, (meta.prompt_token_count or 0) - cached),
        output_tokens=(meta.candidates_token_count or 0) + (meta.thoughts_token_count or 0),
        cache_read_tokens=cached,
    )
