"""Admission control: bounded concurrency that refuses at once instead of queueing without bound."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager


def cores() -> int:
    """The CPUs this process may run on (the affinity mask, not the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


class AdmissionGate:
    """At most ``limit`` holders at once and at most ``queue`` callers waiting for a place; a caller beyond
    that is refused at once with the exception ``refuse()`` makes, so memory-heavy work stays bounded and an
    overload is answered fast (503 + ``Retry-After``) rather than piling up."""

    def __init__(self, *, limit: int, queue: int) -> None:
        if limit < 1 or queue < 0:
            raise ValueError("an admission gate needs limit >= 1 and queue >= 0")
        self._limit = limit
        self._queue = queue
        self._holders = 0
        self._waiting = 0
        self._semaphore: asyncio.Semaphore | None = None

    @property
    def busy(self) -> int:
        """Holders plus waiters right now."""
        return self._holders + self._waiting

    @asynccontextmanager
    async def admit(self, refuse: Callable[[], Exception]) -> AsyncIterator[None]:
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self._limit)
        if self._holders >= self._limit and self._waiting >= self._queue:
            raise refuse()
        self._waiting += 1
        try:
            await self._semaphore.acquire()
        finally:
            self._waiting -= 1
        self._holders += 1
        try:
            yield
        finally:
            self._holders -= 1
            self._semaphore.release()
