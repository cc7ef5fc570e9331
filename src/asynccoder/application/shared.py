"""What every feature shares: one page type and one limit policy for cursor pagination.

Lists are newest first by id (UUIDv7 sorts by creation time); the cursor of a page is the last id shown and
the next page holds the ids below it. Every list input has ``limit`` and ``cursor``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar
from uuid import UUID

from asynccoder.domain.errors import FieldProblem, InvalidInput

T = TypeVar("T")

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: UUID | None


def check_limit(limit: int) -> int:
    """The one limit policy: 1 to ``MAX_PAGE_SIZE``, else ``InvalidInput`` naming the allowed range."""
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidInput(
            "The page size is not valid.",
            problems=[FieldProblem("limit", f"must be 1 to {MAX_PAGE_SIZE}")],
        )
    return limit


def page_of(rows: list[T], limit: int, key: Callable[[T], UUID]) -> Page[T]:
    """Cut ``rows`` (fetched with ``limit + 1``) to a page whose cursor is the last shown id."""
    if len(rows) > limit:
        rows = rows[:limit]
        return Page(items=rows, next_cursor=key(rows[-1]))
    return Page(items=rows, next_cursor=None)
