"""A small Server-Sent Events reader over httpx, strict enough to catch a malformed stream."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass
class SseMessage:
    id: str | None = None
    event: str | None = None
    data_lines: list[str] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    retry: int | None = None

    @property
    def data(self) -> Any:
        return json.loads("\n".join(self.data_lines))

    @property
    def is_event(self) -> bool:
        return bool(self.data_lines)


async def messages(response: httpx.Response) -> AsyncIterator[SseMessage]:
    """Messages of an open ``text/event-stream`` response until the server ends it."""
    assert response.headers["content-type"].startswith("text/event-stream"), response.headers
    current = SseMessage()
    async for line in response.aiter_lines():
        if line == "":
            if current.is_event or current.comments or current.retry is not None:
                yield current
            current = SseMessage()
            continue
        if line.startswith(":"):
            current.comments.append(line[1:].strip())
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "id":
            current.id = value
        elif name == "event":
            current.event = value
        elif name == "data":
            current.data_lines.append(value)
        elif name == "retry":
            current.retry = int(value)
        else:
            raise AssertionError(f"unexpected SSE field {name!r}")
