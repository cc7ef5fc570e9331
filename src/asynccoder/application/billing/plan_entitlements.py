"""What the AI feature asks billing: which model tiers the plan allows, and paying for a model test."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

from asynccoder.application.billing.catalogue import GetEntitlements
from asynccoder.application.billing.credits import (
    ReleaseHold,
    ReleaseHoldInput,
    ReserveCredits,
    ReserveCreditsInput,
    SettleHold,
    SettleHoldInput,
)
from asynccoder.application.ports.ai import TierEntitlements, TrialCharges
from asynccoder.domain.ai import ModelTier


class PlanTierEntitlements(TierEntitlements):
    """Model tiers allowed by the user's current plan (Free when they have no paying subscription).

    Opens its own unit of work: call it outside any other unit-of-work block.
    """

    def __init__(self, get_entitlements: GetEntitlements) -> None:
        self._get = get_entitlements

    async def allowed_tiers(self, user_id: UUID) -> frozenset[ModelTier]:
        return frozenset((await self._get(user_id)).allowed_tiers)


TRIAL_HOLD_TTL = timedelta(minutes=10)


class CreditTrialCharges(TrialCharges):
    """A model test on the platform key is held, then settled at its priced cost, like any other spending."""

    def __init__(self, reserve: ReserveCredits, settle: SettleHold, release: ReleaseHold) -> None:
        self._reserve, self._settle, self._release = reserve, settle, release

    async def reserve(self, user_id: UUID, amount: int, reference: str) -> UUID:
        held = await self._reserve(
            ReserveCreditsInput(user_id, amount, f"{reference}:hold", TRIAL_HOLD_TTL, reference=reference)
        )
        return held.hold.id

    async def settle(self, user_id: UUID, hold_id: UUID, amount: int) -> None:
        if amount > 0:
            await self._settle(SettleHoldInput(user_id, hold_id, amount, f"{hold_id}:settle"))
        else:
            await self._release(ReleaseHoldInput(user_id, hold_id, f"{hold_id}:release"))
