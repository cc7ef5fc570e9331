"""ASGI middleware: request ids and the access log."""

from __future__ import annotations

import re
import time
import uuid

import structlog
from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = "x-request-id"
# A caller-supplied id is kept only if it is short and plain, so it cannot inject into logs.
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
access_log = structlog.get_logger("asynccoder.access")


def request_id_middleware(app: ASGIApp) -> ASGIApp:
    """Give every HTTP request an id (the caller's ``X-Request-ID`` if safe), log one line per request."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        incoming = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"x-request-id"), "")
        request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = MutableScopeHeaders.from_message(message)
                headers[REQUEST_ID_HEADER] = request_id
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            try:
                await app(scope, receive, send_with_id)
            finally:
                access_log.info(
                    "request",
                    method=scope["method"],
                    path=scope["path"],
                    status=status,
                    duration_ms=round((time.perf_counter() - started) * 1000, 2),
                    client=(scope.get("client") or ("", 0))[0],
                )

    return middleware


# The documentation UI loads its scripts and styles from this server only (``docs_ui``); its pages start
# the UI with an inline script, and ReDoc runs a worker from a blob.
_DOCS_PREFIX = "/schema"
_API_CSP = "default-src 'none'; frame-ancestors 'none'"
_DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; worker-src 'self' blob:; frame-ancestors 'none'"
)
_HSTS = "max-age=63072000; includeSubDomains"


def security_headers_middleware(app: ASGIApp, *, hsts: bool) -> ASGIApp:
    """Browser hardening headers on every response; ``Cache-Control: no-store`` on every API response and on
    every response to a request that carries credentials; HSTS when ``hsts`` (production: TLS in front)."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        path: str = scope["path"]
        docs = path == _DOCS_PREFIX or path.startswith(_DOCS_PREFIX + "/")
        credentialed = any(k in (b"authorization", b"cookie") for k, _ in scope["headers"])
        no_store = credentialed or path.startswith("/api/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableScopeHeaders.from_message(message)
                headers["x-content-type-options"] = "nosniff"
                headers["referrer-policy"] = "no-referrer"
                headers["x-frame-options"] = "DENY"
                headers["content-security-policy"] = _DOCS_CSP if docs else _API_CSP
                if no_store:
                    headers["cache-control"] = "no-store"
                if hsts:
                    headers["strict-transport-security"] = _HSTS
            await send(message)

        await app(scope, receive, send_with_headers)

    return middleware
