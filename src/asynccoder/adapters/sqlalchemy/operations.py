"""The operational levels (queue depth and age, outstanding credit holds), read with two aggregate queries."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from asynccoder.adapters.sqlalchemy.billing_tables import credit_holds
from asynccoder.adapters.sqlalchemy.tasks_tables import tasks
from asynccoder.application.ports.metrics import OperationsGauges, OperationsSnapshot
from asynccoder.domain.billing import HoldStatus
from asynccoder.domain.tasks import TaskStatus

# Both filter on an index's leading column (ix_tasks_status_not_before, ix_credit_holds_status_expires_at).
_QUEUE = sa.select(sa.func.count(), sa.func.min(tasks.c.created_at)).where(
    tasks.c.status == TaskStatus.QUEUED.value
)
_HOLDS = sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(credit_holds.c.amount), 0)).where(
    credit_holds.c.status == HoldStatus.ACTIVE.value
)


class SqlAlchemyOperationsGauges(OperationsGauges):
    """One connection checkout, two statements, no transaction block beyond the driver's own."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def snapshot(self) -> OperationsSnapshot:
        async with self._engine.connect() as conn:
            queued, oldest = (await conn.execute(_QUEUE)).one()
            holds, held = (await conn.execute(_HOLDS)).one()
        return OperationsSnapshot(
            queued_tasks=int(queued),
            oldest_queued_at=oldest,
            active_holds=int(holds),
            held_credits=int(held),
        )
