"""Model usage over HTTP: the caller's own usage and the admin's per-model statistics."""

from __future__ import annotations

from datetime import date
from typing import Annotated
from uuid import UUID

import msgspec
from dishka.integrations.litestar import FromDishka, inject
from litestar import Controller, get
from litestar.params import FromQuery, QueryParameter

from asynccoder.application.ai.usage import (
    GetModelUsageStats,
    GetModelUsageStatsInput,
    GetMyUsage,
    GetMyUsageInput,
)
from asynccoder.domain.identity import Actor
from asynccoder.entrypoints.http.auth import require_admin
from asynccoder.entrypoints.http.common import (
    ADMIN_ONLY,
    BAD_REQUEST,
    wire,
)

# ---- usage


class ModelDayOut(msgspec.Struct):
    model_id: UUID
    day: date
    calls: int
    errors: int
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    cost_credits: int
    latency_p50_ms: int | None
    latency_p95_ms: int | None


class ModelUsageOut(msgspec.Struct):
    items: list[ModelDayOut]
    next_cursor: str | None = None


class MyUsageDayOut(msgspec.Struct):
    model_id: UUID
    day: date
    calls: int
    errors: int
    input_tokens: int
    output_tokens: int
    cost_credits: int
    charged_credits: int


class MyUsageOut(msgspec.Struct):
    items: list[MyUsageDayOut]
    next_cursor: str | None = None


FromDate = Annotated[date, QueryParameter(name="from", description="First UTC day (inclusive)")]
ToDate = Annotated[
    date, QueryParameter(name="to", description="Last UTC day (inclusive), at most 366 days later")
]


class AdminUsageController(Controller):
    path = "/admin/usage"
    tags = ["admin"]
    guards = [require_admin]

    @get(
        "/models",
        operation_id="admin_model_usage",
        summary="Model usage per day",
        responses={**BAD_REQUEST, **ADMIN_ONLY},
    )
    @inject
    async def admin_model_usage(
        self,
        actor: FromDishka[Actor],
        use_case: FromDishka[GetModelUsageStats],
        from_: FromDate,
        to: ToDate,
        model_id: FromQuery[UUID | None] = None,
    ) -> ModelUsageOut:
        """Calls, tokens, cost, errors and latency p50/p95 per model and day.

        Latency percentiles are the upper bounds of histogram buckets (an upper estimate)."""
        rows = await use_case(GetModelUsageStatsInput(actor, from_, to, model_id))
        return ModelUsageOut([wire(ModelDayOut, r) for r in rows])


class UserUsageController(Controller):
    path = "/users"
    tags = ["usage"]

    @get(
        "/usage",
        operation_id="my_model_usage",
        summary="Your model usage per day",
        responses=BAD_REQUEST,
    )
    @inject
    async def my_usage(
        self, actor: FromDishka[Actor], use_case: FromDishka[GetMyUsage], from_: FromDate, to: ToDate
    ) -> MyUsageOut:
        """Your calls per model and UTC day: tokens, what they cost, and the platform credits charged (zero on
        your own keys)."""
        rows = await use_case(GetMyUsageInput(actor.user_id, from_, to))
        return MyUsageOut([wire(MyUsageDayOut, r) for r in rows])
