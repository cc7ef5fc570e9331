"""A local server speaking the Anthropic Messages API wire format (JSON and SSE) for the real SDK.

It checks what a real server checks (``x-api-key``, ``anthropic-version``, the body's ``model``,
``max_tokens`` and ``messages``) and answers like Anthropic does, including its error envelopes.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from tests.support.fake_http import FakeHttpServer, Recorded, Reply, sse_frame

_ids = itertools.count(1)


class AnthropicServer(FakeHttpServer):
    """With ``prompt_cache`` set, successful replies report the usage Anthropic's prompt cache would: see
    ``PromptCache``. Without it, the queued reply's usage is sent as given."""

    def __init__(self, api_key: str = "sk-ant-test", *, prompt_cache: PromptCache | None = None) -> None:
        super().__init__()
        self.api_key = api_key
        self.prompt_cache = prompt_cache

    def finalize(self, request: Recorded, reply: Reply) -> Reply:
        if self.prompt_cache is None or reply.status != 200 or not isinstance(request.body, dict):
            return reply
        usage = self.prompt_cache.usage_for(request.body)
        if reply.sse is not None:
            frames = []
            for frame in reply.sse:
                if frame.startswith(b"event: message_start\n"):
                    data = json.loads(frame.split(b"data: ", 1)[1])
                    data["message"]["usage"].update(usage)
                    frame = sse_frame(data, "message_start")
                frames.append(frame)
            return replace(reply, sse=tuple(frames))
        payload = json.loads(reply.body)
        payload["usage"].update(usage)
        return replace(reply, body=json.dumps(payload).encode())

    def check(self, request: Recorded) -> Reply | None:
        rejected = self._check_shape(request)
        if rejected is None and self.prompt_cache is not None:
            assert isinstance(request.body, dict)
            if count_breakpoints(request.body) > MAX_BREAKPOINTS:
                return error(
                    400,
                    "invalid_request_error",
                    f"A maximum of {MAX_BREAKPOINTS} blocks with cache_control may be provided.",
                )
        return rejected

    def _check_shape(self, request: Recorded) -> Reply | None:
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
        for index, tool in enumerate(body.get("tools") or ()):
            problem = _tool_problem(tool)
            if problem is not None:
                return error(400, "invalid_request_error", f"tools.{index}: {problem}")
        return None


# Server tools this server knows, with the one name each must be declared under (Anthropic's docs).
SERVER_TOOLS = {"text_editor_20250728": "str_replace_based_edit_tool"}


def _tool_problem(tool: Any) -> str | None:
    """What Anthropic would refuse in one ``tools`` entry: a custom tool needs a name and an object
    ``input_schema``; a typed server tool must use its fixed name and carries no schema."""
    if not isinstance(tool, dict):
        return "Input should be an object"
    kind = tool.get("type")
    if kind is None or kind == "custom":
        schema = tool.get("input_schema")
        if not isinstance(tool.get("name"), str) or not isinstance(schema, dict):
            return "custom tools need `name` and `input_schema`"
        if schema.get("type") != "object":
            return "input_schema.type: Input should be 'object'"
        return None
    if kind not in SERVER_TOOLS:
        return f"Input tag '{kind}' found using 'type' does not match any of the expected tags"
    if tool.get("name") != SERVER_TOOLS[kind]:
        return f"{kind}.name: Input should be '{SERVER_TOOLS[kind]}'"
    extra = set(tool) - {"type", "name", "cache_control", "max_characters"}
    if extra:
        return f"{kind}.{sorted(extra)[0]}: Extra inputs are not permitted"
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


# --- prompt caching, as the Messages API does it ------------------------------------------------------------
MAX_BREAKPOINTS = 4
LOOKBACK_BLOCKS = 20  # how far before a breakpoint Anthropic looks for an earlier cache entry


@dataclass
class PromptCache:
    """Anthropic's prompt cache for one organisation, simulated on the request bodies received.

    The prompt is the sequence ``tools``, ``system``, ``messages`` block by block. A block with
    ``cache_control`` is a breakpoint: the prefix ending there is written to the cache (if at least
    ``min_tokens`` long). A request reads the longest cached prefix that ends at a breakpoint or at one of the
    ``LOOKBACK_BLOCKS`` blocks before one. Usage then reports, as the real API does,
    ``cache_read_input_tokens``
    (the prefix read), ``cache_creation_input_tokens`` (the part up to the last breakpoint written now) and
    ``input_tokens`` (the rest). Tokens are estimated as one per four characters of the block's canonical
    JSON. The cache identity of a block excludes its ``cache_control`` marker, so moving a breakpoint along a
    growing history still hits. Entries do not expire (tests run well inside the 5-minute TTL).
    """

    min_tokens: int = 1024
    entries: dict[str, int] = field(default_factory=dict)  # prefix hash -> prefix tokens
    log: list[dict[str, int]] = field(default_factory=list)

    def usage_for(self, body: dict[str, Any]) -> dict[str, int]:
        blocks = list(_prompt_blocks(body))
        hashes: list[str] = []
        totals: list[int] = []
        digest = hashlib.sha256(str(body.get("model")).encode())
        running = 0
        for block, _ in blocks:
            digest.update(_canonical(block).encode())
            hashes.append(digest.copy().hexdigest())
            running += _tokens(block)
            totals.append(running)
        breakpoints = [i for i, (_, marked) in enumerate(blocks) if marked]
        read = 0
        for point in breakpoints:
            for i in range(point, max(-1, point - LOOKBACK_BLOCKS - 1), -1):
                if hashes[i] in self.entries:
                    read = max(read, totals[i])
                    break
        written = 0
        for point in breakpoints:
            if totals[point] >= self.min_tokens and hashes[point] not in self.entries:
                self.entries[hashes[point]] = totals[point]
                written = max(written, totals[point] - read)
        total = running
        usage = {
            "input_tokens": total - read - written,
            "cache_read_input_tokens": read,
            "cache_creation_input_tokens": written,
        }
        self.log.append(usage)
        return usage


def count_breakpoints(body: dict[str, Any]) -> int:
    return sum(marked for _, marked in _prompt_blocks(body))


def _prompt_blocks(body: dict[str, Any]) -> Iterator[tuple[dict[str, Any], bool]]:
    for tool in body.get("tools") or ():
        yield _strip(tool), "cache_control" in tool
    system = body.get("system")
    if isinstance(system, str):
        yield {"type": "text", "text": system}, False
    elif isinstance(system, list):
        for block in system:
            yield _strip(block), "cache_control" in block
    for index, message in enumerate(body.get("messages") or ()):
        content = message.get("content")
        if isinstance(content, str):
            content = [{"type": "text", "text": content}]
        for block in content:
            yield {"role": message["role"], "turn": index, **_strip(block)}, "cache_control" in block


def _strip(block: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in block.items() if k != "cache_control"}


def _canonical(block: dict[str, Any]) -> str:
    return json.dumps(block, sort_keys=True, separators=(",", ":"))


def _tokens(block: dict[str, Any]) -> int:
    return math.ceil(len(_canonical(block)) / 4)
