"""Recording model calls and reading usage."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from uuid import UUID

from asynccoder.application.outbound_webhooks.outbox import publish_api_key_invalid
from asynccoder.application.ports.system import (
    Clock,
    IdGenerator,
)
from asynccoder.application.ports.uow import UnitOfWork
from asynccoder.domain.ai import Usage
from asynccoder.domain.ai_catalogue import (
    ApiKeyStatus,
    CallOutcome,
    DailyModelUsage,
    KeySource,
    UsageLogEntry,
    UserDailyUsage,
    price_usage,
)
from asynccoder.domain.errors import FieldProblem, InvalidInput, NotFound
from asynccoder.domain.identity import Actor

MAX_USAGE_RANGE_DAYS = 366


@dataclass(frozen=True, slots=True)
class RecordModelUsageInput:
    user_id: UUID
    model_id: UUID
    key_source: KeySource
    answered_model: str
    usage: Usage
    latency_ms: int
    outcome: CallOutcome
    api_key_id: UUID | None = None
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class RecordedUsage:
    entry_id: UUID
    cost_credits: int
    charged_credits: int


class RecordModelUsage:
    """Records one model call (after every call, successful or not) and adds it to the daily statistics.

    Rules: the cost is the usage priced at the price in force at the call time (``at``, default now), so a
    later price change never alters it; a model without a price in force costs 0 (logged, never guessed);
    calls on the user's own key charge no platform credits (``charged_credits = 0``); an ``auth_failed``
    outcome on the user's own key marks that key invalid so later calls fall back to the platform key; an
    ``api_key_id`` that is not the user's is not attributed (the call is logged without a key).
    """

    def __init__(self, uow: UnitOfWork, clock: Clock, ids: IdGenerator) -> None:
        self._uow, self._clock, self._ids = uow, clock, ids

    async def __call__(self, data: RecordModelUsageInput) -> RecordedUsage:
        at = data.at or self._clock.now()
        async with self._uow as uow:
            if await uow.ai_catalogue.get_model(data.model_id) is None:
                raise NotFound("No such model.", code="model_not_found")
            key = await uow.api_keys.get(data.api_key_id) if data.api_key_id is not None else None
            if key is not None and key.user_id != data.user_id:
                key = None
            price = (await uow.ai_catalogue.prices_at([data.model_id], at)).get(data.model_id)
            cost = price_usage(data.usage, price) if price is not None else 0
            charged = cost if data.key_source is KeySource.PLATFORM else 0
            entry = UsageLogEntry(
                id=self._ids.new_id(),
                user_id=data.user_id,
                model_id=data.model_id,
                api_key_id=key.id if key is not None else None,
                key_source=data.key_source,
                answered_model=data.answered_model,
                usage=data.usage,
                cost_credits=cost,
                charged_credits=charged,
                latency_ms=max(0, data.latency_ms),
                outcome=data.outcome,
                at=at,
            )
            await uow.model_usage.record(entry)
            if key is not None:
                status = ApiKeyStatus.INVALID if data.outcome is CallOutcome.AUTH_FAILED else key.status
                await uow.api_keys.update(dataclasses.replace(key, last_used_at=at, status=status))
                if status is ApiKeyStatus.INVALID and key.status is not ApiKeyStatus.INVALID:
                    await publish_api_key_invalid(uow, at, key)  # the outbound webhook
            await uow.commit()
        return RecordedUsage(entry.id, cost, charged)


def _check_range(start: date, end: date) -> None:
    if end < start or (end - start) > timedelta(days=MAX_USAGE_RANGE_DAYS):
        raise InvalidInput(
            "The date range is not valid.",
            problems=[
                FieldProblem(
                    "to", f"must be on or after 'from' and at most {MAX_USAGE_RANGE_DAYS} days later"
                )
            ],
        )


@dataclass(frozen=True, slots=True)
class GetModelUsageStatsInput:
    actor: Actor
    start: date
    end: date
    model_id: UUID | None = None


class GetModelUsageStats:
    """Admin: calls, tokens, cost, errors and latency percentiles per model and UTC day, oldest first.

    Rules: admins only; ``start``..``end`` inclusive, at most 366 days.
    """

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, data: GetModelUsageStatsInput) -> list[DailyModelUsage]:
        data.actor.require_admin()
        _check_range(data.start, data.end)
        async with self._uow as uow:
            return await uow.model_usage.daily_stats(start=data.start, end=data.end, model_id=data.model_id)


@dataclass(frozen=True, slots=True)
class GetMyUsageInput:
    user_id: UUID
    start: date
    end: date


class GetMyUsage:
    """The caller's own calls per model and UTC day (from the usage log), oldest first.

    Rules: only the caller's own calls; ``start``..``end`` inclusive, at most 366 days.
    """

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, data: GetMyUsageInput) -> list[UserDailyUsage]:
        _check_range(data.start, data.end)
        async with self._uow as uow:
            return await uow.model_usage.user_daily_usage(data.user_id, start=data.start, end=data.end)
