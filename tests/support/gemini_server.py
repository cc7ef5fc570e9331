"""A local server speaking the Gemini API wire format (generateContent, streamGenerateContent?alt=sse).

It checks ``x-goog-api-key`` and the body's ``contents`` and answers like the Gemini API, including its
``{"error": {"code", "message", "status"}}`` envelopes.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from typing import Any

from tests.support.fake_http import FakeHttpServer, Recorded, Reply, sse_frame

_ids = itertools.count(1)
_PATH = re.compile(
    r"^/v1(?:beta|alpha)?/models/(?P<model>[^/:]+):(?P<method>generateContent|streamGenerateContent)$"
)


class GeminiServer(FakeHttpServer):
    def __init__(self, api_key: str = "gemini-test-key") -> None:
        super().__init__()
        self.api_key = api_key

    def check(self, request: Recorded) -> Reply | None:
        match = _PATH.match(request.path)
        if request.method != "POST" or match is None:
            return error(404, "NOT_FOUND", "Requested entity was not found.")
        if match["method"] == "streamGenerateContent" and request.query.get("alt") != ["sse"]:
            return error(400, "INVALID_ARGUMENT", "streaming here requires alt=sse")
        if request.header("x-goog-api-key") != self.api_key:
            return invalid_key()
        body = request.body
        if not isinstance(body, dict) or not isinstance(body.get("contents"), list) or not body["contents"]:
            return error(
                400, "INVALID_ARGUMENT", "* GenerateContentRequest.contents: contents is not specified"
            )
        if not all(c.get("role") in {"user", "model"} for c in body["contents"]):
            return error(400, "INVALID_ARGUMENT", "Please use a valid role: user, model.")
        return None


def error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Reply:
    return Reply.json({"error": {"code": status, "message": message, "status": code}}, status, headers)


def invalid_key() -> Reply:
    """What the Gemini API answers to a wrong key: a 400 whose ErrorInfo reason is API_KEY_INVALID."""
    details = [
        {
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "API_KEY_INVALID",
            "domain": "googleapis.com",
            "metadata": {"service": "generativelanguage.googleapis.com"},
        }
    ]
    payload = {
        "error": {
            "code": 400,
            "message": "API key not valid. Please pass a valid API key.",
            "status": "INVALID_ARGUMENT",
            "details": details,
        }
    }
    return Reply.json(payload, 400)


def rate_limited(retry_after: str = "0") -> Reply:
    message = "Resource has been exhausted (e.g. check quota)."
    return error(429, "RESOURCE_EXHAUSTED", message, {"retry-after": retry_after})


def overloaded() -> Reply:
    return error(503, "UNAVAILABLE", "The model is overloaded. Please try again later.")


def unavailable() -> Reply:
    return overloaded()


def unauthorized() -> Reply:
    return error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")


def context_too_long() -> Reply:
    return error(
        400,
        "INVALID_ARGUMENT",
        "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).",
    )


def _usage(usage: dict[str, int] | None) -> dict[str, int]:
    values = {"promptTokenCount": 12, "candidatesTokenCount": 7, **(usage or {})}
    values["totalTokenCount"] = sum(v for k, v in values.items() if k != "cachedContentTokenCount")
    return values


def _candidate(parts: list[dict[str, Any]], finish: str | None) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
    if finish is not None:
        candidate["finishReason"] = finish
    return candidate


def _calls(tool_calls: Sequence[tuple[str | None, str, dict[str, Any]]]) -> list[dict[str, Any]]:
    parts = []
    for call_id, name, args in tool_calls:
        call: dict[str, Any] = {"name": name, "args": args}
        if call_id is not None:
            call["id"] = call_id
        parts.append({"functionCall": call})
    return parts


def content(
    text: str | None = "Hello!",
    *,
    tool_calls: Sequence[tuple[str | None, str, dict[str, Any]]] = (),
    model: str = "gemini-2.5-flash",
    finish: str = "STOP",
    usage: dict[str, int] | None = None,
) -> Reply:
    parts: list[dict[str, Any]] = [{"text": text}] if text is not None else []
    parts += _calls(tool_calls)
    payload = {
        "candidates": [_candidate(parts, finish)],
        "usageMetadata": _usage(usage),
        "modelVersion": model,
        "responseId": f"resp-{next(_ids)}",
    }
    return Reply.json(payload)


def stream(
    chunks: Sequence[str] = ("Hel", "lo", "!"),
    *,
    tool_calls: Sequence[tuple[str | None, str, dict[str, Any]]] = (),
    model: str = "gemini-2.5-flash",
    usage: dict[str, int] | None = None,
    cut_before_finish: bool = False,
) -> Reply:
    """``data: <GenerateContentResponse>`` frames separated by CRLF CRLF, as the Gemini API streams them."""
    response_id = f"resp-{next(_ids)}"
    frames: list[bytes] = []
    for text in chunks:
        payload = {
            "candidates": [_candidate([{"text": text}], None)],
            "usageMetadata": {"promptTokenCount": 12, "totalTokenCount": 12},
            "modelVersion": model,
            "responseId": response_id,
        }
        frames.append(sse_frame(payload).replace(b"\n\n", b"\r\n\r\n"))
    if cut_before_finish:
        return Reply.stream(frames)
    final = {
        "candidates": [_candidate(_calls(tool_calls) or [{"text": ""}], "STOP")],
        "usageMetadata": _usage(usage),
        "modelVersion": model,
        "responseId": response_id,
    }
    frames.append(sse_frame(final).replace(b"\n\n", b"\r\n\r\n"))
    return Reply.stream(frames)
