"""The caller's credit balance over HTTP."""

from __future__ import annotations

import msgspec
from dishka.integrations.litestar import FromDishka, inject
from litestar import Controller, get

from asynccoder.application.billing.credits import (
    GetCredits,
)
from asynccoder.domain.identity import Actor
from asynccoder.entrypoints.http.billing.schemas import LedgerEntryBody, entry_out
from asynccoder.entrypoints.http.common import (
    problem_responses,
)


class CreditsBody(msgspec.Struct):
    available_credits: int
    held_credits: int
    recent_entries: list[LedgerEntryBody]


# --- controllers -------------------------------------------------------------------------------------


class CreditsController(Controller):
    path = "/users/credits"
    tags = ["billing"]

    @get(operation_id="get_credits", summary="Your credit balance", responses=problem_responses(401))
    @inject
    async def get_credits(self, actor: FromDishka[Actor], use_case: FromDishka[GetCredits]) -> CreditsBody:
        """Available and held credits (1 credit = 1/1000 USD) and the 10 most recent ledger entries."""
        overview = await use_case(actor)
        return CreditsBody(
            overview.account.available, overview.account.held, [entry_out(e) for e in overview.recent]
        )
