"""A local server speaking the Anthropic Messages API wire format (JSON and SSE) for the real SDK.

It checks what a real server checks (``x-api-key``, ``anthropic-version``, the body's ``model``,
``max_tokens`` and ``messages``) and answers like Anthropic does, including its error envelopes.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from typing import Any

from tests.support.fake_http import FakeHttpServer, Recorded, Reply, sse_frame

_ids = itertools.count(1)


class AnthropicServer(FakeHttpServer):
    def __init__(self, api_key: str = "sk-ant-test") -> None:
        super().__init__()
        self.api_key = api_key

    def check(self, request: Recorded) -> Reply | None:
        if request.method != "POST" or request.path != "/v1/messages":
            return error(404, "not_found_error", "Not found")
        # Anthropic accepts the key as ``x-api-key`` or, as SDK 2.x sends it, ``Authorization: Bearer``.
        if self.api_key not in {request.header("x-api-key"), _bearer(request.header("authorization"))}:
            return error(401, "authentication_error", "invalid x-api-key")
        if not request.header("anthropic-version"):
            return error(400, "invalid_request_error", "anthropic-version header is required")
        body = request.body
        if not isinstance(body, dict) or not {"model", "max_tokens", "messages"} <= body.keys():
            return error(400, "invalid_request_error", "model, max_tokens and messages are required")
        if not all(m.get("role") in {"user", "assistant"} for m in body["messages"]):
            return error(400, "invalid_request_error", "messages: roles must be user or assistant")
        return None


def _bearer(value: str | None) -> str | None:
    if value and value.startswith("Bearer "):
        return value.removeprefix("Bearer ")
    return None


def error(status: int, error_type: str, message: str, headers: dict[str, str] | None = None) -> Reply:
    return Reply.json(
        {"type": "error", "error": {"type": error_type, "message": message}, "request_id": "req_fake"},
        status=status,
        headers={"request-id": "req_fake", **(headers or {})},
    )


def rate_limited(retry_after: str = "0", *, ms: str | None = None) -> Reply:
    headers = {"retry-after": retry_after}
    if ms is not None:
        headers["retry-after-ms"] = ms
    return error(429, "rate_limit_error", "Number of request tokens has exceeded your rate limit.", headers)


def overloaded() -> Reply:
    return error(529, "overloaded_error", "Overloaded")


def unavailable() -> Reply:
    return error(503, "api_error", "Service unavailable")


def unauthorized() -> Reply:
    return error(401, "authentication_error", "invalid x-api-key")


def context_too_long() -> Reply:
    return error(400, "invalid_request_error", "prompt is too long: 210000 tokens > 200000 maximum")


def _usage(usage: dict[str, int] | None) -> dict[str, int]:
    return {
        "input_tokens": 12,
        "output_tokens": 7,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        **(usage or {}),
    }


def message(
    text: str | None = "Hello!",
    *,
    tool_calls: Sequence[tuple[str, str, dict[str, Any]]] = (),
    model: str = "claude-sonnet-4-6",
    stop_reason: str | None = None,
    usage: dict[str, int] | None = None,
) -> Reply:
    """A complete Messages API response."""
    content: list[dict[str, Any]] = []
    if text is not None:
        content.append({"type": "text", "text": text})
    for call_id, name, arguments in tool_calls:
        content.append({"type": "tool_use", "id": call_id, "name": name, "input": arguments})
    payload = {
        "id": f"msg_{next(_ids):024d}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason or ("tool_use" if tool_calls else "end_turn"),
        "stop_sequence": None,
        "usage": _usage(usage),
    }
    return Reply.json(payload, headers={"request-id": f"req_{next(_ids)}"})


def stream(
    chunks: Sequence[str] = ("Hel", "lo", "!"),
    *,
    tool_calls: Sequence[tuple[str, str, dict[str, Any]]] = (),
    model: str = "claude-sonnet-4-6",
    usage: dict[str, int] | None = None,
    cut_after_start: bool = False,
    error_event: str | None = None,
) -> Reply:
    """The SSE stream Anthropic sends for ``stream: true``, event by event."""
    full = _usage(usage)
    frames = [
        sse_frame(
            {
                "type": "message_start",
                "message": {
                    "id": f"msg_{next(_ids):024d}",
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": {**full, "output_tokens": 1},
                },
            },
            "message_start",
        )
    ]
    if error_event is not None:
        frames.append(sse_frame({"type": "error", "error": {"type": error_event, "message": "x"}}, "error"))
        return Reply.stream(frames)
    if cut_after_start:
        return Reply.stream(frames)
    index = 0
    if chunks:
        frames.append(
            sse_frame(
                {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
                "content_block_start",
            )
        )
        frames.append(sse_frame({"type": "ping"}, "ping"))
        for chunk in chunks:
            frames.append(
                sse_frame(
                    {
                        "type": "content_block_delta",
                        "index": 0,
                        "delta": {"type": "text_delta", "text": chunk},
                    },
                    "content_block_delta",
                )
            )
        frames.append(sse_frame({"type": "content_block_stop", "index": 0}, "content_block_stop"))
        index = 1
    for call_id, name, arguments in tool_calls:
        frames.append(
            sse_frame(
                {
                    "type": "content_block_start",
                    "index": index,
                    "content_block": {"type": "tool_use", "id": call_id, "name": name, "input": {}},
                },
                "content_block_start",
            )
        )
        encoded = json.dumps(arguments)
        for part in (encoded[: len(encoded) // 2], encoded[len(encoded) // 2 :]):
            frames.append(
                sse_frame(
                    {
                        "type": "content_block_delta",
                        "index": index,
                        "delta": {"type": "input_json_delta", "partial_json": part},
                    },
                    "content_block_delta",
                )
            )
        frames.append(sse_frame({"type": "content_block_stop", "index": index}, "content_block_stop"))
        index += 1
    frames.append(
        sse_frame(
            {
                "type": "message_delta",
                "delta": {"stop_reason": "tool_use" if tool_calls else "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": full["output_tokens"]},
            },
            "message_delta",
        )
    )
    frames.append(sse_frame({"type": "message_stop"}, "message_stop"))
    return Reply.stream(frames, headers={"request-id": f"req_{next(_ids)}"})
