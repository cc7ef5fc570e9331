"""One table from errors to RFC 9457 problem+json responses.

Every error response has ``type``, ``title``, ``status``, ``detail`` and a stable ``code``; validation errors
add ``errors: [{field, message}]``. Nothing internal (tracebacks, SQL, paths) is ever sent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

import structlog
from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    MethodNotAllowedException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
    ValidationException,
)
from litestar.exceptions import TooManyRequestsException as LitestarTooManyRequests
from litestar.plugins.problem_details import ProblemDetailsException
from litestar.types import ExceptionHandlersMap

from asynccoder.domain.ai import ContextTooLong, ProviderAuthError, ProviderError, ProviderInvalidRequest
from asynccoder.domain.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    NotFound,
    PaymentRequired,
    Refused,
    TooManyRequests,
    Unauthenticated,
    Unavailable,
)
from asynccoder.entrypoints.http.requests import ClientDisconnected

PROBLEM_TYPE_BASE = "https://docs.asynccoder.dev/problems/"
log = structlog.get_logger("asynccoder.http")

# Domain error class -> HTTP status. The most specific class wins (MRO order).
DOMAIN_STATUS: Mapping[type[DomainError], int] = {
    InvalidInput: 400,
    Unauthenticated: 401,
    PaymentRequired: 402,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    Refused: 422,
    TooManyRequests: 429,
    Unavailable: 503,
    # A model provider failing is a dependency problem (503); one refusing what we sent, or the key we used,
    # is a request the platform cannot carry out as asked (422).
    ProviderError: 503,
    ProviderAuthError: 422,
    ProviderInvalidRequest: 422,
    ContextTooLong: 422,
}

# Machine codes for framework-raised errors, by status.
STATUS_CODES: Mapping[int, str] = {
    400: "bad_request",
    401: "invalid_token",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "body_too_large",
    415: "unsupported_media_type",
    422: "unprocessable",
    429: "rate_limited",
    500: "internal_error",
    503: "dependency_unavailable",
}

ERROR_CODES_DOC = """Error responses are RFC 9457 `application/problem+json` objects with a stable `code`:
`validation_failed`, `bad_request`, `invalid_token`, `forbidden`, `not_found`, `method_not_allowed`,
`conflict`, `body_too_large`, `unsupported_media_type`, `insufficient_credits`, `rate_limited`,
`dependency_unavailable`, `not_ready`, `internal_error`, plus the specific codes each operation documents."""


def problem(
    request: Request[Any, Any, Any],
    *,
    status: int,
    code: str,
    detail: str,
    title: str | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Response[dict[str, Any]]:
    body: dict[str, Any] = {"code": code}
    if extra:
        body.update(extra)
    return ProblemDetailsException(
        status_code=status,
        type_=PROBLEM_TYPE_BASE + code.replace("_", "-"),
        title=title or HTTPStatus(status).phrase,
        detail=detail,
        headers=headers,
        extra=body,
    ).to_response(request)


_UNKNOWN_FIELD = re.compile(r"unknown field `([^`]+)`")


def _field_errors(extra: Any) -> list[dict[str, str]]:
    errors: list[dict[str, str]] = []
    if isinstance(extra, list):
        for item in extra:
            if isinstance(item, dict):
                message = str(item.get("message", "is invalid"))
                key = str(item.get("key") or item.get("source") or "body")
                # msgspec reports an unknown field on the object that holds it; name the field itself.
                if (unknown := _UNKNOWN_FIELD.search(message)) and key in {"data", "body"}:
                    key = unknown.group(1)
                errors.append({"field": key, "message": message})
    return errors


def handle_domain_error(request: Request[Any, Any, Any], exc: DomainError) -> Response[dict[str, Any]]:
    status = next((DOMAIN_STATUS[cls] for cls in type(exc).__mro__ if cls in DOMAIN_STATUS), 400)
    headers: dict[str, str] = {}
    extra: dict[str, Any] = dict(exc.public_details())
    if isinstance(exc, InvalidInput) and exc.problems:
        extra["errors"] = [{"field": p.field, "message": p.message} for p in exc.problems]
    if isinstance(exc, Unauthenticated):
        headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    if isinstance(exc, Unavailable) and exc.retry_after is not None:
        headers["Retry-After"] = str(exc.retry_after)
    if isinstance(exc, TooManyRequests):
        headers["Retry-After"] = str(exc.retry_after)
        headers["RateLimit-Remaining"] = "0"
        headers["RateLimit-Reset"] = str(exc.retry_after)
        if exc.limit is not None:
            headers["RateLimit-Limit"] = str(exc.limit)
            extra["limit"] = exc.limit
    return problem(request, status=status, code=exc.code, detail=exc.message, headers=headers, extra=extra)


def handle_http_exception(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    if isinstance(exc, ClientDisconnected):
        # Nobody is listening for an answer, and the server did nothing wrong.
        log.info("client_disconnected", path=request.url.path, method=request.method)
        return Response(content=b"", status_code=exc.status_code)
    status = exc.status_code
    headers = dict(exc.headers or {})
    extra: dict[str, Any] = {}
    if status >= 500:
        return handle_unexpected(request, exc)
    code = STATUS_CODES.get(status, "bad_request" if status < 500 else "internal_error")
    detail = exc.detail or HTTPStatus(status).phrase
    if isinstance(exc, ValidationException) or (status == 400 and isinstance(exc.extra, list)):
        code = "validation_failed"
        extra["errors"] = _field_errors(exc.extra)
        detail = "The request is not valid." if extra["errors"] else detail
    elif isinstance(exc, NotFoundException):
        detail = "No such resource."
    elif isinstance(exc, MethodNotAllowedException):
        detail = "This method is not allowed on this resource."
    elif isinstance(exc, NotAuthorizedException):
        headers.setdefault("WWW-Authenticate", "Bearer")
        if isinstance(exc.extra, dict) and "code" in exc.extra:
            code = str(exc.extra["code"])
    elif isinstance(exc, PermissionDeniedException):
        detail = exc.detail or "You may not do this."
    elif isinstance(exc, LitestarTooManyRequests):
        # Litestar's rate-limit middleware says when its window resets; that is when a retry may succeed.
        reset = headers.get("RateLimit-Reset", "1")
        headers.setdefault("Retry-After", str(max(1, int(reset))) if reset.isdigit() else "1")
        detail = "Too many requests: wait for Retry-After seconds."
        if headers.get("RateLimit-Limit", "").isdigit():
            extra["limit"] = int(headers["RateLimit-Limit"])
    if status == 413:
        detail = "The request body is too large."
    return problem(request, status=status, code=code, detail=detail, headers=headers, extra=extra)


def handle_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    log.error("unhandled_error", exc_info=exc, path=request.url.path, method=request.method)
    return problem(
        request, status=500, code="internal_error", detail="An unexpected error occurred. It has been logged."
    )


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    DomainError: handle_domain_error,
    HTTPException: handle_http_exception,
    Exception: handle_unexpected,
}

__all__ = ["ERROR_CODES_DOC", "EXCEPTION_HANDLERS", "problem"]
