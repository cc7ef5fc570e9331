"""A Hypothesis state machine over the whole task lifecycle, checking the credit invariants after every step:
no credit is created or lost, holds equal the caps (or, BYOK-only, the platform fees) of unfinished tasks,
every ended task is settled at most its cap (nothing when waived; a BYOK-only one its fee or nothing), and
every receipt (lines plus platform fee) sums to what was settled."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from asynccoder.adapters.ai.scripted import ScriptedChatModel
from asynccoder.adapters.memory.store import InMemoryStore
from asynccoder.adapters.memory.uow import InMemoryUnitOfWork
from asynccoder.application.ports.task_execution import BudgetExhausted, TaskExecution
from asynccoder.application.tasks.manage import GetTaskReceipt
from asynccoder.domain.ai import ProviderOverloaded
from asynccoder.domain.ai_catalogue import ApiKeyStatus
from asynccoder.domain.billing import InsufficientCredits
from asynccoder.domain.identity import User
from asynccoder.domain.tasks import ConcurrencyLimitReached, FailureReason, TaskStatus
from tests.support.builders import T0
from tests.support.system import ManualClock
from tests.support.task_engine import (
    MODEL_NAME,
    Call,
    Do,
    EngineWorld,
    Fail,
    Raise,
    ScriptedTaskRunner,
    WaitForCancel,
    sequential_ids,
)

CREDITS = 2_000
CAPS = st.integers(min_value=10, max_value=900)
FEE = 20  # TaskPolicy's default platform fee


class TaskLifecycle(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        store = InMemoryStore()
        self.clock = ManualClock(T0 + timedelta(days=1))
        self.world = EngineWorld(lambda: InMemoryUnitOfWork(store), self.clock, ids=sequential_ids())
        self.run(self._setup())

    async def _setup(self) -> None:
        await self.world.seed()
        async with self.world.new_uow() as uow:
            free = await uow.billing_catalogue.get_plan_by_code("free")
            assert free is not None
            await uow.billing_catalogue.save_plan(dataclasses.replace(free, max_concurrent_tasks=4))
            await uow.commit()
        self.user: User
        self.user, self.repo = await self.world.user_with_repository(credits=CREDITS)

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def teardown(self) -> None:
        self.loop.close()

    def _worker(self, runner: ScriptedTaskRunner, name: str = "w") -> Any:
        return self.world.worker(runner, name, stop_grace=0.05, heartbeat_interval=0.02)

    def _prepare(self, answers: int, cap: int | None = None) -> None:
        """A fresh script of ``answers`` turns; with ``cap``, first queue a task if none is waiting."""
        self.world.chat.models[MODEL_NAME] = ScriptedChatModel()
        self.world.script_answers(answers)
        if cap is not None:

            async def ensure() -> None:
                async with self.world.new_uow() as uow:
                    waiting = await uow.tasks.list_page(self.user.id, _queued(), 1)
                if not waiting:
                    with contextlib.suppress(InsufficientCredits, ConcurrencyLimitReached):
                        await self.world.submit(self.user, self.repo, budget_cap_credits=cap)

            self.run(ensure())

    # --- rules ------------------------------------------------------------------------------------

    @rule(cap=CAPS)
    def submit(self, cap: int) -> None:
        async def go() -> None:
            async with self.world.new_uow() as uow:
                keys = await uow.api_keys.list_for_user(self.user.id)
            own_key = any(k.status is ApiKeyStatus.ACTIVE for k in keys)
            with contextlib.suppress(InsufficientCredits, ConcurrencyLimitReached):
                task = (await self.world.submit(self.user, self.repo, budget_cap_credits=cap)).task
                # With a valid own key every call answers on it: only the fee (at most the cap) is held.
                assert task.platform_fee_credits == (min(FEE, cap) if own_key else None)

        self.run(go())

    @rule(calls=st.integers(min_value=0, max_value=3), cap=CAPS)
    def run_to_success(self, calls: int, cap: int) -> None:
        self._prepare(calls, cap)
        self.run(self._worker(ScriptedTaskRunner(([Call(f"q{i}") for i in range(calls)],))).run_one())

    @rule(calls=st.integers(min_value=0, max_value=2), cap=CAPS)
    def run_into_a_provider_failure(self, calls: int, cap: int) -> None:
        self._prepare(calls, cap)
        self.world.chat.model("claude-scripted").add(ProviderOverloaded("busy", provider="anthropic"))
        steps = [*(Call(f"q{i}") for i in range(calls)), Call("fails")]
        self.run(self._worker(ScriptedTaskRunner((steps,))).run_one())

    @rule(calls=st.integers(min_value=0, max_value=2), reason=st.sampled_from(list(FailureReason)), cap=CAPS)
    def run_into_a_failure(self, calls: int, reason: FailureReason, cap: int) -> None:
        self._prepare(calls, cap)
        steps = [*(Call(f"q{i}") for i in range(calls)), Fail(reason)]
        self.run(self._worker(ScriptedTaskRunner((steps,))).run_one())

    @rule(calls=st.integers(min_value=0, max_value=2), cap=CAPS)
    def run_into_a_crash(self, calls: int, cap: int) -> None:
        self._prepare(calls, cap)
        steps = [*(Call(f"q{i}") for i in range(calls)), Raise(RuntimeError("boom"))]
        self.run(self._worker(ScriptedTaskRunner((steps,))).run_one())

    @rule(calls=st.integers(min_value=0, max_value=2), cap=CAPS)
    def retry_a_transient_failure(self, calls: int, cap: int) -> None:
        self._prepare(calls, cap)
        steps = [
            *(Call(f"q{i}") for i in range(calls)),
            Fail(FailureReason.SANDBOX_UNAVAILABLE, transient=True),
        ]
        self.run(self._worker(ScriptedTaskRunner((steps,))).run_one())

    @rule(calls=st.integers(min_value=0, max_value=2), cap=CAPS)
    def cancel_while_running(self, calls: int, cap: int) -> None:
        self._prepare(calls, cap)

        async def cancel(execution: TaskExecution) -> None:
            await self.world.cancel_use_case()(self.user.as_actor(), execution.task_id)

        steps = [*(Call(f"q{i}") for i in range(calls)), Do(cancel), WaitForCancel()]
        self.run(self._worker(ScriptedTaskRunner((steps,))).run_one())

    @rule()
    def cancel_the_oldest_queued(self) -> None:
        async def go() -> None:
            async with self.world.new_uow() as uow:
                tasks = await uow.tasks.list_page(self.user.id, _queued(), 100)
            if tasks:
                await self.world.cancel_use_case()(self.user.as_actor(), tasks[-1].id)

        self.run(go())

    @rule(calls=st.integers(min_value=0, max_value=2), cap=CAPS)
    def lose_a_worker_mid_task(self, calls: int, cap: int) -> None:
        self._prepare(calls, cap)

        async def go() -> None:
            dead = self._worker(ScriptedTaskRunner(), "dead")
            task = await dead.claim()
            if task is None:
                return
            if calls:  # the dead worker made some calls before it died (or until the budget stopped them)
                runner = ScriptedTaskRunner(([Call(f"q{i}") for i in range(calls)],))
                with contextlib.suppress(BudgetExhausted):
                    await runner.run(await _execution_for(dead, task))
            self.clock.advance(timedelta(minutes=5))
            await self._worker(ScriptedTaskRunner(), "survivor").recover_stale()

        self.run(go())

    @rule()
    def toggle_own_key(self) -> None:
        """The user brings an own key, or it turns invalid, or valid again: later submits are BYOK-only (the
        platform fee is held) while it is valid; a BYOK-only task whose key turned invalid fails its calls."""

        async def go() -> None:
            async with self.world.new_uow() as uow:
                keys = await uow.api_keys.list_for_user(self.user.id)
            if not keys:
                await self.world.add_own_key(self.user)
                return
            [key] = keys
            flipped = ApiKeyStatus.INVALID if key.status is ApiKeyStatus.ACTIVE else ApiKeyStatus.ACTIVE
            async with self.world.new_uow() as uow:
                await uow.api_keys.update(dataclasses.replace(key, status=flipped))
                await uow.commit()

        self.run(go())

    @rule()
    def time_passes(self) -> None:
        self.clock.advance(timedelta(minutes=10))

    # --- invariants -------------------------------------------------------------------------------

    @invariant()
    def credits_balance(self) -> None:
        async def check() -> None:
            async with self.world.new_uow() as uow:
                account = await uow.credits.get_account(self.user.id)
                tasks = await uow.tasks.list_page(self.user.id, _all(), 1_000)
            unfinished = [t for t in tasks if not t.status.is_terminal]
            ended = [t for t in tasks if t.status.is_terminal]
            settled = sum(t.settled_credits or 0 for t in ended)
            assert account.available >= 0
            assert account.held == sum(
                t.budget_cap_credits if t.platform_fee_credits is None else t.platform_fee_credits
                for t in unfinished
            )
            assert account.available + account.held + settled == CREDITS
            for task in ended:
                assert task.settled_credits is not None, task
                assert 0 <= task.settled_credits <= task.budget_cap_credits
                if task.charge_waived:
                    assert task.settled_credits == 0
                if task.byok_only:  # the fee once it ran, unless waived; whatever its calls cost on the key
                    ran = task.started_at is not None and not task.charge_waived
                    assert task.settled_credits == (task.platform_fee_credits if ran else 0)
                receipt = await GetTaskReceipt(self.world.new_uow())(self.user.as_actor(), task.id)
                billed = sum(line.billed_credits for line in receipt.lines)
                assert billed + receipt.platform_fee_credits == task.settled_credits
                assert receipt.settled_credits == task.settled_credits
            for task in tasks:
                assert task.status in TaskStatus

        self.run(check())


def _queued() -> Any:
    from asynccoder.application.ports.tasks import TaskFilter

    return TaskFilter(status=TaskStatus.QUEUED)


def _all() -> Any:
    from asynccoder.application.ports.tasks import TaskFilter

    return TaskFilter()


async def _execution_for(worker: Any, task: Any) -> TaskExecution:
    """An execution for a claimed attempt, built as the engine builds it (to spend from a dead worker)."""
    from asynccoder.application.tasks import engine as engine_module

    signal = engine_module._Signal()
    async with worker.scope() as services, services.uow as uow:
        spent = await uow.task_usage.charged_total(task.id)
        repo = await uow.repositories.get(task.repository_id)
    budget = engine_module._Budget(task.budget_cap_credits, spent)
    assert repo is not None
    return TaskExecution(
        task_id=task.id,
        user_id=task.user_id,
        mode=task.mode,
        instructions=task.instructions,
        attempt=task.attempt,
        repository=engine_module.RepositoryCheckout(
            repo.id, repo.full_name, repo.clone_url, repo.base_branch
        ),
        models=engine_module._Models(worker, task, budget, signal, 200_000, 8_192),
        budget=budget,
        log=engine_module._Log(worker, task.id),
        cancellation=signal,
        deadline=worker.clock.now() + timedelta(hours=1),
        git_credentials=engine_module._NoCredentials(worker, task.user_id),
    )


TaskLifecycle.TestCase.settings = settings(
    max_examples=15,
    stateful_step_count=10,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_task_lifecycle_keeps_the_credit_invariants = TaskLifecycle.TestCase
