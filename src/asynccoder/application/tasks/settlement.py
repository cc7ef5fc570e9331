"""Settling a finished task's credits: charge the usage (never more than the cap) or, for a failure through
the platform's or a provider's fault, release everything."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from asynccoder.application.billing.credits import (
    ReleaseHold,
    ReleaseHoldInput,
    SettleHold,
    SettleHoldInput,
)
from asynccoder.application.ports.system import Clock
from asynccoder.application.ports.uow import UnitOfWork
from asynccoder.domain.errors import Conflict
from asynccoder.domain.tasks import charge_for


@dataclass(frozen=True, slots=True)
class Settlement:
    task_id: UUID
    settled_credits: int
    waived: bool


class SettleTask:
    """Settle one ended task's hold and record the charge on the task.

    Rules: only terminal tasks with a hold and no recorded charge; the charge is the sum of the charged model
    calls, capped at the budget (``charge_for``); ``provider_error``, ``sandbox_unavailable`` and ``internal``
    failures charge nothing (``waived``: the hold is released and the receipt says why); a BYOK-only task is
    charged its platform fee once it started (``charge_for``); the hold calls use
    keys derived from the task id, so repeating after a crash moves no credits twice; a hold that already
    expired (its credits returned) records a waived zero charge.
    """

    def __init__(self, uow: UnitOfWork, settle: SettleHold, release: ReleaseHold) -> None:
        self._uow, self._settle, self._release = uow, settle, release

    async def __call__(self, task_id: UUID) -> Settlement | None:
        async with self._uow as uow:
            task = await uow.tasks.get(task_id)
            if task is None or not task.status.is_terminal or task.hold_id is None:
                return None
            if task.settled_credits is not None:
                return Settlement(task.id, task.settled_credits, task.charge_waived)
            charged = await uow.task_usage.charged_total(task_id)
        amount, waived = charge_for(
            task.failure_reason,
            charged,
            task.budget_cap_credits,
            platform_fee_credits=task.platform_fee_credits,
            ran=task.started_at is not None,
        )
        try:
            if waived or amount == 0:
                await self._release(ReleaseHoldInput(task.user_id, task.hold_id, f"task:{task.id}:release"))
            else:
                await self._settle(
                    SettleHoldInput(task.user_id, task.hold_id, amount, f"task:{task.id}:settle")
                )
        except Conflict as exc:
            if exc.code != "hold_not_active":
                raise
            async with self._uow as uow:
                hold = await uow.credits.get_hold(task.hold_id)
            settled = hold.settled_amount if hold is not None and hold.settled_amount is not None else 0
            amount, waived = settled, settled == 0 and amount > 0
        async with self._uow as uow:
            await uow.tasks.record_settlement(task.id, amount, waived)
            await uow.commit()
        return Settlement(task.id, amount, waived)


class SettleEndedTasks:
    """The periodic sweep: settle every ended task nobody settled (its worker died, or cancel raced it).

    Rules: only tasks finished before ``finished_before`` (leave a running worker time to settle its own);
    each through ``SettleTask``. Returns how many were settled.
    """

    def __init__(self, uow: UnitOfWork, clock: Clock, settle: SettleTask) -> None:
        self._uow, self._clock, self._settle = uow, clock, settle

    async def __call__(self, finished_before: datetime, limit: int = 100) -> int:
        async with self._uow as uow:
            tasks = await uow.tasks.find_unsettled(finished_before, limit)
        done = 0
        for task in tasks:
            if await self._settle(task.id) is not None:
                done += 1
        return done
