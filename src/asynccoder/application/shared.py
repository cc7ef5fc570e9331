"""What every feature shares: cursor pagination (newest first by id; UUIDv7 sorts by creation time)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar
from uuid import UUID

T = TypeVar("T")

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: UUID | None


def page_of(rows: list[T], limit: int, key: Callable[[T], UUID]) -> Page[T]:
    """Cut ``rows`` (fetched with ``limit + 1``) to a page whose cursor is the last shown id."""
    if len(rows) > limit:
        rows = rows[:limit]
        return Page(items=rows, next_cursor=key(rows[-1]))
    return Page(items=rows, next_cursor=None)


def clamp_limit(limit: int) -> int:
    return max(1, min(limit, MAX_PAGE_SIZE))
