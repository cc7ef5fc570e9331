"""Test doubles of the system ports: a clock that moves only when told, and deterministic ids."""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, datetime, timedelta
from uuid import UUID

from asynccoder.application.ports.system import Clock, IdGenerator


class ManualClock(Clock):
    """A clock that only moves when told to; for tests and simulations."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, tzinfo=UTC)
        if self._now.tzinfo is None:
            raise ValueError("ManualClock needs a timezone-aware start")

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> None:
        self._now += delta

    def set(self, moment: datetime) -> None:
        if moment.tzinfo is None:
            raise ValueError("ManualClock needs timezone-aware times")
        self._now = moment


class SequentialIdGenerator(IdGenerator):
    """Deterministic UUIDv7-shaped ids (1, 2, 3, ...) for tests: valid version and variant bits, sorted."""

    def __init__(self, start: int = 1) -> None:
        self._counter = itertools.count(start)
        self._lock = threading.Lock()

    def new_id(self) -> UUID:
        with self._lock:
            n = next(self._counter)
        # 48-bit timestamp field holds the counter; version 7; variant 0b10.
        value = (n & ((1 << 48) - 1)) << 80 | (0x7 << 76) | (0b10 << 62)
        return UUID(int=value)
