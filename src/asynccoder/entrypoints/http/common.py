"""What every HTTP module shares: the API prefix, problem+json responses, the cursor and limit parameters."""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated, TypeVar
from uuid import UUID

import msgspec
from litestar.openapi import ResponseSpec
from litestar.params import QueryParameter

from asynccoder.application.shared import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from asynccoder.domain.errors import FieldProblem, InvalidInput
from asynccoder.ioc.settings import API_PREFIX as _API_PREFIX


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


class ModelRetiredProblem(Problem):
    """A problem that may be ``model_retired``: then ``replacement_model_id`` is the catalogue model to use
    instead (``null`` when there is none)."""

    replacement_model_id: UUID | None = None


def problem_responses(*statuses: int) -> dict[int, ResponseSpec]:
    return {
        status: ResponseSpec(
            data_container=Problem,
            description=HTTPStatus(status).phrase,
            media_type="application/problem+json",
            generate_examples=False,
        )
        for status in statuses
    }


def problem_response(description: str, container: type[Problem] = Problem) -> ResponseSpec:
    """One problem+json response with a description listing the codes it may carry."""
    return ResponseSpec(
        data_container=container,
        description=description,
        media_type="application/problem+json",
        generate_examples=False,  # Litestar's generated examples are random strings, not real problems
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


# The prefix of every API route; spelled once in ioc.settings, which also builds the callback URLs from it.
API_PREFIX = _API_PREFIX

BAD_REQUEST = {400: problem_response("Invalid input (`validation_failed`)")}
NOT_FOUND = {404: problem_response("No such object, or not the caller's (`not_found` and specific codes)")}
ADMIN_ONLY = {403: problem_response("The caller is not an admin (`forbidden`)")}

# The one limit policy (``asynccoder.application.shared``) and the one cursor parameter of every list.
Limit = Annotated[
    int,
    QueryParameter(
        ge=1, le=MAX_PAGE_SIZE, description=f"Page size (default {DEFAULT_PAGE_SIZE}, max {MAX_PAGE_SIZE})"
    ),
]
Cursor = Annotated[
    str | None, QueryParameter(max_length=255, description="`next_cursor` of the previous page")
]


T = TypeVar("T")


class _Derived:
    """``source``'s attributes, with the wire values of the fields named in ``derived`` in their place."""

    __slots__ = ("_derived", "_source")

    def __init__(self, source: object, derived: dict[str, object]) -> None:
        self._source = source
        self._derived = derived

    def __getattr__(self, name: str) -> object:
        derived = self._derived
        return derived[name] if name in derived else getattr(self._source, name)


def wire(struct: type[T], source: object, **derived: object) -> T:
    """The response ``struct`` built from ``source``'s same-named attributes (nested objects too).

    ``derived`` gives, by field name, only the wire values that are not the attribute as it is: ids as
    strings, enum values as strings, renamed or computed fields. Datetimes stay ``datetime``.
    """
    return msgspec.convert(_Derived(source, derived) if derived else source, struct, from_attributes=True)
