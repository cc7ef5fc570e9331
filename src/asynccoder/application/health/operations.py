"""ObserveOperations: refresh the operational levels the metrics expose."""

from __future__ import annotations

from asynccoder.application.ports.metrics import Metrics, OperationsGauges, OperationsSnapshot
from asynccoder.application.ports.system import Clock


class ObserveOperations:
    """Read the queue depth, the oldest queued task and the outstanding credit holds, and hand them to the
    metrics. Run on every scrape, so the levels are as fresh as the scrape and cost nothing in between."""

    def __init__(self, gauges: OperationsGauges, metrics: Metrics, clock: Clock) -> None:
        self._gauges, self._metrics, self._clock = gauges, metrics, clock

    async def __call__(self) -> OperationsSnapshot:
        snapshot = await self._gauges.snapshot()
        self._metrics.operations_observed(snapshot, self._clock.now())
        return snapshot
