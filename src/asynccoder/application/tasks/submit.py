"""SubmitTask: check access, mode, plan limit and model; reserve the budget and queue the task in one
transaction; Idempotency-Key replays."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

from asynccoder.application.ai.selection import SelectModelsForUser, SelectModelsForUserInput
from asynccoder.application.billing.catalogue import entitlements_in
from asynccoder.application.billing.credits import ReserveCreditsInput, reserve_in
from asynccoder.application.ports.ai import TierEntitlements
from asynccoder.application.ports.code_hosting import CodeHost
from asynccoder.application.ports.events import TaskEventNotifier
from asynccoder.application.ports.metrics import NO_METRICS, Metrics
from asynccoder.application.ports.system import Clock, IdGenerator
from asynccoder.application.ports.task_queue import TASKS_TABLE_QUEUE, TaskQueue
from asynccoder.application.ports.uow import UnitOfWork
from asynccoder.application.tasks.engine import CodeHostTokens
from asynccoder.application.tasks.events import TaskEvents
from asynccoder.domain.ai_catalogue import KeySource
from asynccoder.domain.code_hosting import validate_branch_name
from asynccoder.domain.errors import Conflict, Forbidden, NotFound
from asynccoder.domain.identity import Actor
from asynccoder.domain.tasks import (
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_PRIORITY,
    MODE_RULES,
    ConcurrencyLimitReached,
    Task,
    TaskIdempotencyKeyTaken,
    TaskMode,
    TaskStatus,
    priority_class_for_plan,
    validate_task_request,
)

DEFAULT_BUDGET_CAP_CREDITS = 2_000  # 2 USD
DEFAULT_BYOK_PLATFORM_FEE_CREDITS = 20  # 2 US cents: what a task run only on the user's own keys pays
MAX_IDEMPOTENCY_KEY_LENGTH = 200


@dataclass(frozen=True, slots=True)
class TaskPolicy:
    """Engine-wide knobs the use cases share (from settings)."""

    hold_ttl: timedelta = timedelta(hours=2)
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    default_budget_cap_credits: int = DEFAULT_BUDGET_CAP_CREDITS
    byok_platform_fee_credits: int = DEFAULT_BYOK_PLATFORM_FEE_CREDITS


@dataclass(frozen=True, slots=True)
class SubmitTaskInput:
    actor: Actor
    repository_id: UUID
    mode: TaskMode
    instructions: str
    base_branch: str | None = None
    pull_request_number: int | None = None
    model_id: UUID | None = None
    budget_cap_credits: int | None = None
    priority: int = DEFAULT_PRIORITY
    idempotency_key: str | None = None


@dataclass(frozen=True, slots=True)
class SubmittedTask:
    task: Task
    replayed: bool


def fingerprint(data: SubmitTaskInput, cap: int) -> str:
    """A stable digest of the request body, to tell a retry from a different request under one key."""
    body = {
        "repository_id": str(data.repository_id),
        "mode": data.mode.value,
        "instructions": data.instructions,
        "base_branch": data.base_branch,
        "pull_request_number": data.pull_request_number,
        "model_id": str(data.model_id) if data.model_id else None,
        "budget_cap_credits": cap,
        "priority": data.priority,
    }
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def _key_reused() -> Conflict:
    return Conflict(
        "This idempotency key was used for a different task request.", code="idempotency_key_reused"
    )


class SubmitTask:
    """Queue a task for the caller.

    Rules:
    - the request's shape is valid (instructions 1-20,000 characters, priority 0-10, positive budget,
      ``pr_review`` needs ``pull_request_number`` and only it takes one) -> 422 otherwise;
    - the caller needs access to the repository (none -> 404 ``repository_not_found``); writing modes
      (``debug``, ``documentation``) need write access (-> 403 ``repository_write_access_required``);
    - a ``pr_review`` task's pull request must exist on the repository: known from the pull-request records,
      else asked of the code host as the caller (missing -> 404 ``pull_request_not_found``; the host's own
      refusals, e.g. ``github_not_connected``, and outages pass through);
    - a model must be reachable for the task before anything is held, as the model selection decides: an
      explicit one usable by the caller (404 ``model_not_found``, 422 ``model_not_allowed`` /
      ``no_provider_key``), or, automatic, at least one enabled model in the plan's tiers with an own or a
      platform key (422 ``no_model_available``) -- never accepted to fail ``invalid_request`` later;
    - the plan's concurrent-task limit counts queued and running tasks; at the limit -> 429
      ``concurrency_limit_reached`` with the ``limit``; never silent queueing;
    - the budget cap is held with ``reserve_in`` (402 ``insufficient_credits``) and the task row, its job on
      the ``TaskQueue`` (procrastinate's job row; nothing more for the in-process engine, whose queue is the
      tasks table) and its first status event are written in the same unit of work, so none exists without
      the others;
    - a BYOK-only task (every model of the selected chain answers on the user's own key) holds only the
      platform fee (``byok_platform_fee_credits``, at most the cap) and its calls never use a platform key;
    - an ``idempotency_key`` makes a retry with the same body return the same task (``replayed``); the same
      key with a different body -> 409 ``idempotency_key_reused``;
    - the plan's scheduling class is stored on the task (Enterprise before Pro before Free).
    """

    def __init__(
        self,
        uow: UnitOfWork,
        clock: Clock,
        ids: IdGenerator,
        tiers: TierEntitlements,
        select: SelectModelsForUser,
        notifier: TaskEventNotifier,
        policy: TaskPolicy,
        code_host: CodeHost,
        tokens: CodeHostTokens,
        metrics: Metrics = NO_METRICS,
        queue: TaskQueue = TASKS_TABLE_QUEUE,
    ) -> None:
        self._uow, self._clock, self._ids = uow, clock, ids
        self._tiers, self._select, self._notifier, self._policy = tiers, select, notifier, policy
        self._host, self._tokens = code_host, tokens
        self._metrics, self._queue = metrics, queue

    async def __call__(self, data: SubmitTaskInput) -> SubmittedTask:
        cap = (
            data.budget_cap_credits
            if data.budget_cap_credits is not None
            else self._policy.default_budget_cap_credits
        )
        instructions = validate_task_request(
            data.mode,
            data.instructions,
            base_branch=data.base_branch,
            pull_request_number=data.pull_request_number,
            budget_cap_credits=cap,
            priority=data.priority,
        )
        base_branch = (
            validate_branch_name(data.base_branch, field_name="base_branch") if data.base_branch else None
        )
        key = (data.idempotency_key or "").strip() or None
        if key is not None and len(key) > MAX_IDEMPOTENCY_KEY_LENGTH:
            key = hashlib.sha256(key.encode()).hexdigest()
        digest = fingerprint(data, cap)
        user_id = data.actor.user_id

        if key is not None and (replay := await self._replay(user_id, key, digest)) is not None:
            return replay
        full_name = await self._check_access(data)
        if data.pull_request_number is not None:
            await self._check_pull_request(data, full_name, data.pull_request_number)
        tiers = await self._tiers.allowed_tiers(user_id)
        selected = await self._select(
            SelectModelsForUserInput(user_id, data.mode, tiers, model_id=data.model_id)
        )
        byok_only = all(c.key_source is KeySource.BYOK for c in selected.candidates)
        fee = min(self._policy.byok_platform_fee_credits, cap) if byok_only else None

        events = TaskEvents(self._notifier, self._clock, self._metrics)
        task_id = self._ids.new_id()
        try:
            async with self._uow as uow:
                entitlements = await entitlements_in(uow, self._clock, user_id)
                limit = entitlements.max_concurrent_tasks
                if await uow.tasks.count_active(user_id) >= limit:
                    raise ConcurrencyLimitReached(
                        f"You already have {limit} active tasks, the most your plan allows.",
                        limit=limit,
                        retry_after=30,
                    )
                hold = await reserve_in(
                    uow,
                    self._clock,
                    self._ids,
                    ReserveCreditsInput(
                        user_id,
                        cap if fee is None else fee,
                        f"task:{task_id}:reserve",
                        self._policy.hold_ttl,
                        f"task:{task_id}",
                    ),
                )
                now = self._clock.now()
                task = Task(
                    id=task_id,
                    user_id=user_id,
                    repository_id=data.repository_id,
                    mode=data.mode,
                    instructions=instructions,
                    budget_cap_credits=cap,
                    priority=data.priority,
                    priority_class=priority_class_for_plan(entitlements.plan_code),
                    concurrency_limit=limit,
                    status=TaskStatus.QUEUED,
                    created_at=now,
                    updated_at=now,
                    base_branch=base_branch,
                    pull_request_number=data.pull_request_number,
                    model_id=data.model_id,
                    max_attempts=self._policy.max_attempts,
                    hold_id=hold.hold.id,
                    idempotency_key=key,
                    request_fingerprint=digest if key else None,
                    platform_fee_credits=fee,
                )
                await uow.tasks.add(task)
                await self._queue.enqueue(uow, task)
                await events.status(uow, task_id)
                await uow.commit()
        except TaskIdempotencyKeyTaken:
            assert key is not None
            if (replay := await self._replay(user_id, key, digest)) is not None:
                return replay
            raise _key_reused() from None
        await events.flush()
        return SubmittedTask(task, replayed=False)

    async def _replay(self, user_id: UUID, key: str, digest: str) -> SubmittedTask | None:
        async with self._uow as uow:
            existing = await uow.tasks.find_by_idempotency_key(user_id, key)
        if existing is None:
            return None
        if existing.request_fingerprint != digest:
            raise _key_reused()
        return SubmittedTask(existing, replayed=True)

    async def _check_access(self, data: SubmitTaskInput) -> str:
        """The repository's full name, once the caller's access allows the mode."""
        async with self._uow as uow:
            access = await uow.repositories.get_access(data.actor.user_id, data.repository_id)
            repository = await uow.repositories.get(data.repository_id) if access else None
        if access is None or repository is None:
            raise NotFound("No such repository.", code="repository_not_found")
        needed = MODE_RULES[data.mode].needs
        if not access.permission.allows(needed):
            raise Forbidden(
                f"The {data.mode.value} mode needs {needed.value} access to the repository.",
                code="repository_write_access_required",
            )
        return repository.full_name

    async def _check_pull_request(self, data: SubmitTaskInput, full_name: str, number: int) -> None:
        async with self._uow as uow:
            recorded = await uow.pull_requests.get_by_number(data.repository_id, number)
        if recorded is not None:
            return
        token = await self._tokens.token_for(data.actor.user_id)
        try:
            await self._host.read_pull_request(token, full_name, number)
        except NotFound:
            raise NotFound(
                f"The repository has no pull request #{number}.", code="pull_request_not_found"
            ) from None
