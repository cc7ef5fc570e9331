"""The request class of the app: hostile JSON bodies and client disconnects become client errors, not 500s.

Every JSON body is decoded here before any handler sees it: a body nested deeper than ``MAX_JSON_DEPTH``
is ``400 invalid_json`` (without this, msgspec's decoder hits Python's recursion limit), and a ``U+0000``
anywhere in it is ``400 invalid_text`` (PostgreSQL text cannot hold NUL, and SQLite must not differ).
A client that goes away while its body is read raises ``ClientDisconnected``, which is not a server error.
"""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator
from typing import Any

from litestar import Request
from litestar.exceptions import HTTPException, InternalServerException

from asynccoder.domain.errors import InvalidInput

MAX_JSON_DEPTH = 32
# A JSON ``\u0000`` escape: preceded by an even number of backslashes (an odd run would escape the ``\``).
_NUL_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
# Litestar's wording when the ASGI server reports ``http.disconnect`` mid-body (connection/request.py).
_LITESTAR_DISCONNECT = "client disconnected prematurely"


class ClientDisconnected(HTTPException):
    """The client closed the connection before its request body arrived (nginx's 499)."""

    status_code = 499


def _too_deep(value: Any, limit: int) -> bool:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


class ApiRequest(Request[Any, Any, Any]):
    """``Request`` with a bounded JSON decoder and client disconnects told apart from server errors."""

    async def stream(self) -> AsyncGenerator[bytes, None]:
        try:
            async for chunk in super().stream():
                yield chunk
        except InternalServerException as exc:
            if exc.detail == _LITESTAR_DISCONNECT:
                raise ClientDisconnected(detail="The client disconnected.") from None
            raise

    async def json(self) -> Any:
        body = await self.body()
        if b"\\u0000" in body and _NUL_ESCAPE.search(body):
            raise InvalidInput("Text may not contain NUL characters (U+0000).", code="invalid_text")
        try:
            value = await super().json()
        except RecursionError:
            raise _too_deep_error() from None
        # Brackets inside strings only overcount, so few brackets prove a shallow body without a walk.
        if body.count(b"[") + body.count(b"{") > MAX_JSON_DEPTH and _too_deep(value, MAX_JSON_DEPTH):
            raise _too_deep_error()
        return value


def _too_deep_error() -> InvalidInput:
    return InvalidInput(f"JSON may be nested at most {MAX_JSON_DEPTH} levels deep.", code="invalid_json")


__all__ = ["MAX_JSON_DEPTH", "ApiRequest", "ClientDisconnected"]
