"""OpenAPI descriptions of problem+json error responses."""

from __future__ import annotations

from http import HTTPStatus
from uuid import UUID

import msgspec
from litestar.openapi import ResponseSpec

from asynccoder.domain.errors import FieldProblem, InvalidInput


class FieldError(msgspec.Struct):
    field: str
    message: str


class Problem(msgspec.Struct):
    """RFC 9457 problem details with a stable machine ``code``."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    errors: list[FieldError] | None = None
    limit: int | None = None  # on 429: the limit that was reached


def problem_responses(*statuses: int) -> dict[int, ResponseSpec]:
    return {
        status: ResponseSpec(
            data_container=Problem,
            description=HTTPStatus(status).phrase,
            media_type="application/problem+json",
        )
        for status in statuses
    }


def problem_response(description: str) -> ResponseSpec:
    """One problem+json response with a description listing the codes it may carry."""
    return ResponseSpec(
        data_container=Problem, description=description, media_type="application/problem+json"
    )


def parse_cursor(cursor: str | None) -> UUID | None:
    if cursor is None:
        return None
    try:
        return UUID(cursor)
    except ValueError:
        raise InvalidInput(
            "The cursor is not valid.",
            problems=[FieldProblem("cursor", "must be a cursor from a previous page")],
            code="invalid_cursor",
        ) from None
