"""A local server speaking OpenAI's Chat Completions wire format (JSON and SSE) for the real ``openai`` SDK.

It checks ``Authorization: Bearer <key>`` and the body's ``model`` and ``messages`` and answers like OpenAI,
including its error envelopes and the ``chat.completion.chunk`` stream ending in ``data: [DONE]``.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from typing import Any

from tests.support.fake_http import FakeHttpServer, Recorded, Reply, sse_frame

_ids = itertools.count(1)


class OpenAIServer(FakeHttpServer):
    def __init__(self, api_key: str = "sk-test", path_prefix: str = "/v1") -> None:
        super().__init__()
        self.api_key = api_key
        self.path_prefix = path_prefix

    @property
    def api_base(self) -> str:
        return self.base_url + self.path_prefix

    def check(self, request: Recorded) -> Reply | None:
        if request.method != "POST" or request.path != f"{self.path_prefix}/chat/completions":
            return error(404, "invalid_request_error", "Unknown request URL", code="unknown_url")
        if request.header("authorization") != f"Bearer {self.api_key}":
            return error(401, "invalid_request_error", "Incorrect API key provided", code="invalid_api_key")
        body = request.body
        if not isinstance(body, dict) or not {"model", "messages"} <= body.keys():
            return error(400, "invalid_request_error", "model and messages are required")
        roles = {"system", "developer", "user", "assistant", "tool"}
        if not all(isinstance(m, dict) and m.get("role") in roles for m in body["messages"]):
            return error(400, "invalid_request_error", "Invalid value for 'messages[].role'")
        return None


def error(
    status: int,
    error_type: str,
    message: str,
    *,
    code: str | None = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    return Reply.json(
        {"error": {"message": message, "type": error_type, "param": None, "code": code}},
        status=status,
        headers={"x-request-id": "req_fake", **(headers or {})},
    )


def rate_limited(retry_after: str = "0", *, ms: str | None = None) -> Reply:
    headers = {"retry-after": retry_after}
    if ms is not None:
        headers["retry-after-ms"] = ms
    return error(
        429, "requests", "Rate limit reached for requests", code="rate_limit_exceeded", headers=headers
    )


def unavailable() -> Reply:
    return error(503, "server_error", "The engine is currently overloaded, please try again later")


def overloaded() -> Reply:
    return error(529, "server_error", "Overloaded")


def unauthorized() -> Reply:
    return error(401, "invalid_request_error", "Incorrect API key provided", code="invalid_api_key")


def context_too_long() -> Reply:
    return error(
        400,
        "invalid_request_error",
        "This model's maximum context length is 128000 tokens. "
        "However, your messages resulted in 130000 tokens.",
        code="context_length_exceeded",
    )


def _usage(usage: dict[str, int] | None) -> dict[str, Any]:
    values = {"prompt_tokens": 12, "completion_tokens": 7, "cached_tokens": 0, **(usage or {})}
    return {
        "prompt_tokens": values["prompt_tokens"],
        "completion_tokens": values["completion_tokens"],
        "total_tokens": values["prompt_tokens"] + values["completion_tokens"],
        "prompt_tokens_details": {"cached_tokens": values["cached_tokens"], "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
    }


def completion(
    text: str | None = "Hello!",
    *,
    tool_calls: Sequence[tuple[str, str, dict[str, Any]]] = (),
    model: str = "gpt-4.1-2025-04-14",
    finish_reason: str | None = None,
    usage: dict[str, int] | None = None,
) -> Reply:
    message: dict[str, Any] = {"role": "assistant", "content": text, "refusal": None, "annotations": []}
    if tool_calls:
        message["tool_calls"] = [
            {"id": call_id, "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}
            for call_id, name, args in tool_calls
        ]
    payload = {
        "id": f"chatcmpl-{next(_ids)}",
        "object": "chat.completion",
        "created": 1_764_460_800,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": finish_reason or ("tool_calls" if tool_calls else "stop"),
            }
        ],
        "usage": _usage(usage),
        "service_tier": "default",
        "system_fingerprint": "fp_fake",
    }
    return Reply.json(payload, headers={"x-request-id": f"req_{next(_ids)}"})


def stream(
    chunks: Sequence[str] = ("Hel", "lo", "!"),
    *,
    tool_calls: Sequence[tuple[str, str, dict[str, Any]]] = (),
    model: str = "gpt-4.1-2025-04-14",
    usage: dict[str, int] | None = None,
    cut_before_finish: bool = False,
) -> Reply:
    """Chunks as OpenAI streams them with ``stream_options.include_usage``: usage chunk, then [DONE]."""
    chunk_id = f"chatcmpl-{next(_ids)}"

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        return sse_frame(
            {
                "id": chunk_id,
                "object": "chat.completion.chunk",
                "created": 1_764_460_800,
                "model": model,
                "system_fingerprint": "fp_fake",
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
                "usage": None,
            }
        )

    frames = [chunk({"role": "assistant", "content": "", "refusal": None})]
    frames += [chunk({"content": text}) for text in chunks]
    for index, (call_id, name, args) in enumerate(tool_calls):
        encoded = json.dumps(args)
        frames.append(
            chunk(
                {
                    "tool_calls": [
                        {
                            "index": index,
                            "id": call_id,
                            "type": "function",
                            "function": {"name": name, "arguments": ""},
                        }
                    ]
                }
            )
        )
        for part in (encoded[: len(encoded) // 2], encoded[len(encoded) // 2 :]):
            frames.append(chunk({"tool_calls": [{"index": index, "function": {"arguments": part}}]}))
    if cut_before_finish:
        return Reply.stream(frames)
    frames.append(chunk({}, "tool_calls" if tool_calls else "stop"))
    frames.append(
        sse_frame(
            {
                "id": chunk_id,
                "object": "chat.completion.chunk",
                "created": 1_764_460_800,
                "model": model,
                "system_fingerprint": "fp_fake",
                "choices": [],
                "usage": _usage(usage),
            }
        )
    )
    frames.append(b"data: [DONE]\n\n")
    return Reply.stream(frames, headers={"x-request-id": f"req_{next(_ids)}"})
