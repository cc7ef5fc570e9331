"""In-process login throttle (one API process; use the Redis one when several share the limits)."""

from __future__ import annotations

import math
from datetime import datetime

from asynccoder.application.auth.ports import LoginThrottle
from asynccoder.application.common.ports import Clock


class InMemoryLoginThrottle(LoginThrottle):
    """Fixed windows of ``window_seconds`` per key, started by the first failure."""

    MAX_KEYS = 100_000

    def __init__(self, clock: Clock, *, account_limit: int, client_limit: int, window_seconds: int) -> None:
        self._clock = clock
        self._limits = {"account": account_limit, "client": client_limit}
        self._window = window_seconds
        self._counts: dict[tuple[str, str], tuple[datetime, int]] = {}

    def _live(self, key: tuple[str, str], now: datetime) -> tuple[datetime, int] | None:
        entry = self._counts.get(key)
        if entry is None:
            return None
        if (now - entry[0]).total_seconds() >= self._window:
            del self._counts[key]
            return None
        return entry

    async def retry_after(self, *, account: str, client: str) -> int:
        now = self._clock.now()
        waits = [0]
        for key in (("account", account), ("client", client)):
            entry = self._live(key, now)
            if entry is not None and entry[1] >= self._limits[key[0]]:
                waits.append(math.ceil(self._window - (now - entry[0]).total_seconds()))
        return max(waits)

    async def record_failure(self, *, account: str, client: str) -> None:
        now = self._clock.now()
        if len(self._counts) >= self.MAX_KEYS:
            # Bounded memory under a flood of distinct accounts: drop windows that have ended.
            for key in list(self._counts):
                self._live(key, now)
        for key in (("account", account), ("client", client)):
            entry = self._live(key, now)
            self._counts[key] = (now, 1) if entry is None else (entry[0], entry[1] + 1)

    async def record_success(self, *, account: str) -> None:
        self._counts.pop(("account", account), None)
