"""CheckReadiness: every probe must pass; failures are named, internals hidden."""

from __future__ import annotations

import asyncio

from asynccoder.application.health.check_readiness import CheckReadiness


class Probe:
    def __init__(self, name: str, outcome: str | Exception | None = None, delay: float = 0.0) -> None:
        self.name = name
        self._outcome = outcome
        self._delay = delay

    async def check(self) -> str | None:
        if self._delay:
            await asyncio.sleep(self._delay)
        if isinstance(self._outcome, Exception):
            raise self._outcome
        return self._outcome


async def test_ready_when_every_probe_is_healthy() -> None:
    readiness = await CheckReadiness([Probe("database"), Probe("redis")])()
    assert readiness.ready
    assert [c.name for c in readiness.components] == ["database", "redis"]


async def test_a_failing_probe_makes_the_platform_not_ready_and_is_named() -> None:
    readiness = await CheckReadiness([Probe("database"), Probe("migrations", "schema is behind")])()
    assert not readiness.ready
    failing = [c for c in readiness.components if not c.healthy]
    assert [(c.name, c.reason) for c in failing] == [("migrations", "schema is behind")]


async def test_a_probe_that_raises_is_unhealthy_without_leaking_the_exception_text() -> None:
    error = ConnectionError("password=hunter2 host=10.0.0.5")
    readiness = await CheckReadiness([Probe("database", error)])()
    assert not readiness.ready
    assert readiness.components[0].reason == "unreachable"


async def test_a_probe_that_hangs_times_out() -> None:
    readiness = await CheckReadiness([Probe("redis", delay=5)], timeout_seconds=0.05)()
    assert not readiness.ready
    assert readiness.components[0].reason == "timed out"
