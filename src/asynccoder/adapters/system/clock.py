"""Clock adapters."""

from __future__ import annotations

from datetime import UTC, datetime

from asynccoder.application.ports.system import Clock


class SystemClock(Clock):
    """Wall-clock time in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)
