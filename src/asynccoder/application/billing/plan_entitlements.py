"""The user's plan decides which model tiers they may use."""

from __future__ import annotations

from uuid import UUID

from asynccoder.application.billing.catalogue import GetEntitlements
from asynccoder.application.ports.ai import TierEntitlements
from asynccoder.domain.ai import ModelTier


class PlanTierEntitlements(TierEntitlements):
    """Model tiers allowed by the user's current plan (Free when they have no paying subscription).

    Opens its own unit of work: call it outside any other unit-of-work block.
    """

    def __init__(self, get_entitlements: GetEntitlements) -> None:
        self._get = get_entitlements

    async def allowed_tiers(self, user_id: UUID) -> frozenset[ModelTier]:
        return frozenset((await self._get(user_id)).allowed_tiers)
