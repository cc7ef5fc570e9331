"""The offline demo model: a deterministic ``ChatModel`` driving the real agent with no network and no key.

Switched on by ``ASYNCCODER_DEMO_MODEL=true`` (refused in production), so a new user can run a task end to
end on the embedded defaults. It is not an AI and says so in every answer: it lists the repository through
the agent's own ``view`` tool, reads its README (or its first file), then calls ``submit`` with an answer
built from what it read, filling whatever fields the mode's ``submit`` tool asks for.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

from asynccoder.application.ports.ai import ChatModel, ChatModelFactory
from asynccoder.domain.ai import (
    ChatRequest,
    ChatResponse,
    ContentBlock,
    ModelRef,
    StopReason,
    StreamDone,
    StreamEvent,
    TextBlock,
    TextDelta,
    ToolCall,
    ToolDefinition,
    ToolResult,
    Usage,
)

DEMO_NOTICE = (
    "**Demo answer** from the offline demo model (`ASYNCCODER_DEMO_MODEL=true`), not from an AI: it only "
    "lists the repository and quotes the file it read. Configure a provider key for real answers."
)
_README = re.compile(r"(?<![\w/.-])(README(?:\.[A-Za-z0-9]+)?)(?![\w.-])", re.IGNORECASE)
_FILE = re.compile(r"(?<![\w/.-])([\w-]+\.[A-Za-z0-9]+)(?![\w.-])")


class DemoChatModel(ChatModel):
    """Step 1 lists the workspace, step 2 reads one file, step 3 submits; usage is a fixed, tiny count."""

    def __init__(self, model: str) -> None:
        self._model = model

    async def complete(self, request: ChatRequest) -> ChatResponse:
        results = [b for m in request.messages for b in m.content if isinstance(b, ToolResult)]
        tools = {t.name: t for t in request.tools}
        step = len(results)
        content: tuple[ContentBlock, ...]
        if "view" in tools and step == 0:
            content = (ToolCall("demo-1", "view", {"path": "."}),)
        elif "view" in tools and step == 1:
            content = (ToolCall("demo-2", "view", {"path": _pick_file(results[0].content)}),)
        elif "submit" in tools:
            read = _pick_file(results[0].content) if results else None
            quoted = results[-1].content if len(results) > 1 else ""
            content = (
                ToolCall(f"demo-{step + 1}", "submit", _submit_arguments(tools["submit"], read, quoted)),
            )
        else:
            content = (TextBlock(DEMO_NOTICE),)
        reason = StopReason.TOOL_USE if any(isinstance(b, ToolCall) for b in content) else StopReason.END_TURN
        return ChatResponse(request.model or self._model, content, reason, Usage(200, 50), None)

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        response = await self.complete(request)
        if response.text:
            yield TextDelta(response.text)
        yield StreamDone(response)


class DemoChatModelFactory(ChatModelFactory):
    """Every model reference gets the demo model; no key is ever used."""

    def create(self, ref: ModelRef, *, api_key: str) -> ChatModel:
        return DemoChatModel(ref.model)


def _pick_file(listing: str) -> str:
    readme = _README.search(listing)
    if readme:
        return readme.group(1)
    first = _FILE.search(listing)
    return first.group(1) if first else "."


def _submit_arguments(tool: ToolDefinition, read: str | None, quoted: str) -> dict[str, Any]:
    excerpt = "\n".join(quoted.splitlines()[:12])
    text = DEMO_NOTICE
    if read:
        text += f"\n\nThe file it read is `{read}`; it begins:\n\n```\n{excerpt}\n```"
    properties: dict[str, Any] = tool.input_schema.get("properties", {})
    required = set(tool.input_schema.get("required", []))
    arguments: dict[str, Any] = {}
    for name, spec in properties.items():
        kind = spec.get("type")
        if kind == "array" and name in {"cited_files", "affected_files"} and read:
            arguments[name] = [read]
        elif name not in required:
            continue
        elif "enum" in spec:
            arguments[name] = spec["enum"][0]
        elif kind == "array":
            arguments[name] = [read] if read else []
        elif kind == "boolean":
            arguments[name] = False
        else:
            arguments[name] = text
    return arguments
