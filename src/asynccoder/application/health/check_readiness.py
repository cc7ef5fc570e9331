"""CheckReadiness use case."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from asynccoder.application.ports.system import ComponentHealth, HealthProbe


@dataclass(frozen=True, slots=True)
class Readiness:
    ready: bool
    components: tuple[ComponentHealth, ...]


class CheckReadiness:
    """Report whether the platform can serve traffic.

    Rules: every probe runs concurrently with a deadline; a probe that raises or times out counts as unhealthy
    with a generic reason (internals never leak); the platform is ready only if every probe is healthy.
    """

    def __init__(self, probes: Sequence[HealthProbe], *, timeout_seconds: float = 3.0) -> None:
        self._probes = probes
        self._timeout = timeout_seconds

    async def __call__(self) -> Readiness:
        results = await asyncio.gather(*(self._run(probe) for probe in self._probes))
        return Readiness(ready=all(c.healthy for c in results), components=tuple(results))

    async def _run(self, probe: HealthProbe) -> ComponentHealth:
        try:
            reason = await asyncio.wait_for(probe.check(), timeout=self._timeout)
        except TimeoutError:
            return ComponentHealth(probe.name, healthy=False, reason="timed out")
        except Exception:
            return ComponentHealth(probe.name, healthy=False, reason="unreachable")
        return ComponentHealth(probe.name, healthy=reason is None, reason=reason)
