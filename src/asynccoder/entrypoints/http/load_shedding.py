"""Bounded concurrency of large request bodies: an anonymous flood of big uploads cannot grow memory.

A request whose body is larger than ``threshold`` bytes (by ``Content-Length``, or of unknown length when
it is sent chunked) needs one of ``limit`` places before its body is read; without one it gets ``503``
problem+json with ``Retry-After`` without waiting, and its body is dropped as it arrives, never held.
"""

from __future__ import annotations

import json

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send

from asynccoder.application.admission import AdmissionGate
from asynccoder.domain.errors import Unavailable
from asynccoder.entrypoints.http.problems import PROBLEM_TYPE_BASE

LARGE_BODY_BYTES = 1024 * 1024
RETRY_AFTER_SECONDS = 1
# A refused body is read and dropped up to this much (the largest body any route accepts, GitHub's 25 MB).
MAX_DISCARDED_BYTES = 26 * 1024 * 1024


class _Busy(Exception):
    pass


def _is_large(scope: Scope, threshold: int) -> bool:
    length: int | None = None
    chunked = False
    for key, value in scope["headers"]:
        if key == b"content-length":
            try:
                length = int(value)
            except ValueError:
                return True  # malformed: let it wait for a place like any unknown size
        elif key == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    return (length is not None and length > threshold) or (length is None and chunked)


def _expects_continue(scope: Scope) -> bool:
    return any(k == b"expect" and v.lower() == b"100-continue" for k, v in scope["headers"])


async def _discard_body(receive: Receive) -> None:
    """Read and drop the body chunk by chunk (memory stays one chunk), so that the client, which is still
    sending, gets to read the 503 instead of a reset connection. A client that asked ``Expect:
    100-continue`` is answered at once: it has not sent its body."""
    discarded = 0
    while discarded <= MAX_DISCARDED_BYTES:
        message = await receive()
        if message["type"] != "http.request":
            return
        discarded += len(message.get("body", b""))
        if not message.get("more_body", False):
            return


def _busy_body() -> bytes:
    busy = Unavailable("The server is busy with large uploads; try again shortly.", code="server_busy")
    return json.dumps(
        {
            "type": PROBLEM_TYPE_BASE + busy.code.replace("_", "-"),
            "title": "Service Unavailable",
            "status": 503,
            "detail": busy.message,
            "code": busy.code,
        }
    ).encode()


def large_body_middleware(app: ASGIApp, *, threshold: int, limit: int) -> ASGIApp:
    """At most ``limit`` requests with a body over ``threshold`` bytes in flight; others get 503 at once."""
    gate = AdmissionGate(limit=limit, queue=0)
    body = _busy_body()

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or not _is_large(scope, threshold):
            await app(scope, receive, send)
            return
        try:
            async with gate.admit(_Busy):
                await app(scope, receive, send)
        except _Busy:
            if not _expects_continue(scope):
                await _discard_body(receive)
            await send(
                {
                    "type": "http.response.start",
                    "status": 503,
                    "headers": [
                        (b"content-type", b"application/problem+json"),
                        (b"content-length", str(len(body)).encode()),
                        (b"retry-after", str(RETRY_AFTER_SECONDS).encode()),
                        (b"connection", b"close"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body, "more_body": False})

    return middleware
