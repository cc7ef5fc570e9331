"""Identifier generators: UUIDv7 everywhere."""

from __future__ import annotations

import itertools
import threading
from uuid import UUID

import uuid_utils

from asynccoder.application.ports.system import IdGenerator


class Uuid7Generator(IdGenerator):
    """Random, time-ordered UUIDv7 (RFC 9562), monotonic within the process."""

    def new_id(self) -> UUID:
        return UUID(bytes=uuid_utils.uuid7().bytes)


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
