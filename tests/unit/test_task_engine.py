"""The task engine on the in-memory adapters: every outcome settles; cancels stop; crashes are recovered."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from asynccoder.adapters.memory.store import InMemoryStore
from asynccoder.adapters.memory.uow import InMemoryUnitOfWork
from asynccoder.adapters.system.clock import SystemClock
from asynccoder.application.tasks.engine import TaskWorker
from asynccoder.application.tasks.manage import GetTaskReceipt
from asynccoder.domain.ai import ProviderOverloaded
from asynccoder.domain.ai_catalogue import ApiKeyStatus
from asynccoder.domain.tasks import FailureReason, Task, TaskStatus, retry_backoff
from tests.support.code_hosting import make_repository
from tests.support.system import ManualClock
from tests.support.task_engine import (
    Call,
    Do,
    EngineWorld,
    Fail,
    Hang,
    Log,
    Raise,
    ScriptedTaskRunner,
    WaitForCancel,
)

CREDITS = 10_000


@pytest.fixture
async def world() -> EngineWorld:
    store = InMemoryStore()
    w = EngineWorld(lambda: InMemoryUnitOfWork(store), SystemClock())
    await w.seed()
    return w


async def _task(world: EngineWorld, task_id) -> Task:  # type: ignore[no-untyped-def]
    async with world.new_uow() as uow:
        task = await uow.tasks.get(task_id)
    assert task is not None
    return task


async def _account(world: EngineWorld, user_id) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    async with world.new_uow() as uow:
        account = await uow.credits.get_account(user_id)
    return account.available, account.held


async def _wait_for(predicate, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await predicate():
        assert loop.time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


async def test_a_successful_task_is_charged_its_usage_and_the_rest_released(world: EngineWorld) -> None:
    user, repo = await world.user_with_repository(credits=CREDITS)
    task = (await world.submit(user, repo)).task
    world.script_answers(1, "The build uses nox.")
    await world.worker(ScriptedTaskRunner()).run_one()
    done = await _task(world, task.id)
    assert done.status is TaskStatus.SUCCEEDED
    assert done.result is not None
    assert done.result.summary_markdown == "The build uses nox."
    receipt = await GetTaskReceipt(world.new_uow())(user.as_actor(), task.id)
    assert done.settled_credits == receipt.charged_credits > 0
    assert await _account(world, user.id) == (CREDITS - done.settled_credits, 0)


async def test_the_runner_gets_the_repositorys_test_command_and_base_branch(world: EngineWorld) -> None:
    repo = make_repository(host="local", host_id=None, full_name="acme/tested", test_command="make test")
    user, repo = await world.user_with_repository(credits=CREDITS, repository=repo)
    await world.submit(user, repo)
    world.script_answers(1)
    runner = ScriptedTaskRunner()

    await world.worker(runner).run_one()

    (execution,) = runner.executions
    assert execution.repository.test_command == "make test"
    assert execution.repository.base_branch == repo.base_branch


async def test_a_provider_failure_charges_nothing_and_the_receipt_says_why(world: EngineWorld) -> None:
    user, repo = await world.user_with_repository(credits=CREDITS)
    task = (await world.submit(user, repo)).task
    world.script_answers(1)
    world.chat.model("claude-scripted").add(ProviderOverloaded("busy", provider="anthropic"))
    runner = ScriptedTaskRunner(((Call("first"), Call("second")),))
    await world.worker(runner).run_one()
    done = await _task(world, task.id)
    assert (done.status, done.failure_reason) == (TaskStatus.FAILED, FailureReason.PROVIDER_ERROR)
    receipt = await GetTaskReceipt(world.new_uow())(user.as_actor(), task.id)
    assert (receipt.settled_credits, receipt.waived) == (0, True)
    assert receipt.charged_credits > 0  # the first call is on the receipt, not on the bill
    assert "provider_error" in receipt.note
    assert await _account(world, user.id) == (CREDITS, 0)


async def test_the_budget_never_lets_a_call_exceed_the_cap(world: EngineWorld) -> None:
    user, repo = await world.user_with_repository(credits=CREDITS)
    task = (await world.submit(user, repo, budget_cap_credits=10)).task
    await world.worker(ScriptedTaskRunner(((Call("big", max_tokens=4_096),),))).run_one()
    done = await _task(world, task.id)
    assert (done.status, done.failure_reason) == (TaskStatus.FAILED, FailureReason.BUDGET_EXHAUSTED)
    assert world.chat.model("claude-scripted").requests == []
    assert done.settled_credits == 0


async def test_a_transient_failure_is_retried_with_backoff() -> None:
    store = InMemoryStore()
    clock = ManualClock(datetime.now(UTC))
    world = EngineWorld(lambda: InMemoryUnitOfWork(store), clock)
    await world.seed()
    user, repo = await world.user_with_repository(credits=CREDITS)
    task = (await world.submit(user, repo)).task
    runner = ScriptedTaskRunner(((Fail(FailureReason.SANDBOX_UNAVAILABLE, transient=True),), (Log("ok"),)))
    worker = world.worker(runner)
    await worker.run_one()
    waiting = await _task(world, task.id)
    assert (waiting.status, waiting.attempt) == (TaskStatus.QUEUED, 1)
    assert waiting.not_before == clock.now() + retry_backoff(1)
    clock.advance(retry_backoff(1) - timedelta(seconds=1))
    assert await worker.claim() is None  # not before its backoff
    clock.advance(timedelta(seconds=1))
    await worker.run_one()
    done = await _task(world, task.id)
    assert (done.status, done.attempt) == (TaskStatus.SUCCEEDED, 2)


async def test_cancelling_a_running_task_stops_it_and_settles_the_usage(world: EngineWorld) -> None:
    user, repo = await world.user_with_repository(credits=CREDITS)
    task = (await world.submit(user, repo)).task
    world.script_answers(1)
    runner = ScriptedTaskRunner(((Call("one"), WaitForCancel()),))
    worker = world.worker(runner)
    run = asyncio.ensure_future(worker.run_one())
    await asyncio.wait_for(runner.started.wait(), 5)

    async def called() -> bool:
        async with world.new_uow() as uow:
            return bool(await uow.task_usage.list_for_task(task.id))

    await _wait_for(called)
    await world.cancel_use_case()(user.as_actor(), task.id)
    await asyncio.wait_for(run, 5)
    done = await _task(world, task.id)
    assert done.status is TaskStatus.CANCELLED
    assert done.settled_credits is not None
    assert done.settled_credits > 0
    assert await _account(world, user.id) == (CREDITS - done.settled_credits, 0)


async def test_a_runner_that_ignores_the_cancel_is_interrupted(world: EngineWorld) -> None:
    user, repo = await world.user_with_repository(credits=CREDITS)
    task = (await world.submit(user, repo)).task
    runner = ScriptedTaskRunner(((Hang(),),))
    run = asyncio.ensure_future(world.worker(runner).run_one())
    await asyncio.wait_for(runner.started.wait(), 5)
    await world.cancel_use_case()(user.as_actor(), task.id)
    await asyncio.wait_for(run, 5)
    done = await _task(world, task.id)
    assert (done.status, done.settled_credits) == (TaskStatus.CANCELLED, 0)
    assert await _account(world, user.id) == (CREDITS, 0)


async def test_the_wall_clock_limit_fails_the_task_with_timeout(world: EngineWorld) -> None:
    user, repo = await world.user_with_repository(credits=CREDITS)
    task = (await world.submit(user, repo)).task
    worker = world.worker(ScriptedTaskRunner(((Hang(),),)), wall_clock_limit=timedelta(milliseconds=100))
    await asyncio.wait_for(worker.run_one(), 5)
    done = await _task(world, task.id)
    assert (done.status, done.failure_reason) == (TaskStatus.FAILED, FailureReason.TIMEOUT)
    assert await _account(world, user.id) == (CREDITS, 0)


async def test_a_runner_crash_fails_internal_and_charges_nothing(world: EngineWorld) -> None:
    user, repo = await world.user_with_repository(credits=CREDITS)
    task = (await world.submit(user, repo)).task
    world.script_answers(1)
    await world.worker(ScriptedTaskRunner(((Call("x"), Raise(RuntimeError("boom"))),))).run_one()
    done = await _task(world, task.id)
    assert (done.status, done.failure_reason, done.charge_waived) == (
        TaskStatus.FAILED,
        FailureReason.INTERNAL,
        True,
    )
    assert await _account(world, user.id) == (CREDITS, 0)


async def test_a_dead_workers_task_is_handed_back_and_run_by_another(world: EngineWorld) -> None:
    user, repo = await world.user_with_repository(credits=CREDITS)
    task = (await world.submit(user, repo)).task
    dead = world.worker(ScriptedTaskRunner(), "dead")
    assert await dead.claim() is not None  # claimed, then the process "dies": no heartbeat ever again
    alive = world.worker(ScriptedTaskRunner(((Log("recovered"),),)), "alive", stale_after=timedelta(0))
    assert await alive.recover_stale() == 1
    await alive.run_one()
    done = await _task(world, task.id)
    assert (done.status, done.attempt, done.worker_id) == (TaskStatus.SUCCEEDED, 2, "alive")
    assert await _account(world, user.id) == (CREDITS, 0)


async def test_a_task_lost_on_its_last_attempt_fails_and_releases_its_hold(world: EngineWorld) -> None:
    user, repo = await world.user_with_repository(credits=CREDITS)
    world.policy = type(world.policy)(max_attempts=1)
    task = (await world.submit(user, repo)).task
    assert await world.worker(ScriptedTaskRunner(), "dead").claim() is not None
    await world.worker(ScriptedTaskRunner(), "alive", stale_after=timedelta(0)).recover_stale()
    done = await _task(world, task.id)
    assert (done.status, done.failure_reason, done.settled_credits) == (
        TaskStatus.FAILED,
        FailureReason.INTERNAL,
        0,
    )
    assert await _account(world, user.id) == (CREDITS, 0)


async def test_shutdown_hands_running_tasks_back(world: EngineWorld) -> None:
    user, repo = await world.user_with_repository(credits=CREDITS)
    task = (await world.submit(user, repo)).task
    runner = ScriptedTaskRunner(((WaitForCancel(),), (Log("second"),)))
    worker = world.worker(runner)
    loop = asyncio.ensure_future(worker.run())
    await asyncio.wait_for(runner.started.wait(), 5)
    worker.stop()
    await asyncio.wait_for(loop, 5)
    back = await _task(world, task.id)
    assert (back.status, back.attempt, back.worker_id) == (TaskStatus.QUEUED, 0, None)  # attempt given back
    assert await _account(world, user.id) == (CREDITS - 1_000, 1_000)  # still reserved for the next attempt


async def test_a_shutdown_hand_back_does_not_use_up_the_last_attempt(world: EngineWorld) -> None:
    user, repo = await world.user_with_repository(credits=CREDITS)
    world.policy = type(world.policy)(max_attempts=1)
    task = (await world.submit(user, repo)).task
    runner = ScriptedTaskRunner(((WaitForCancel(),), (Log("never"),)))
    for _ in range(2):  # two shutdowns in a row, each mid-task
        runner.started.clear()
        leaving = world.worker(runner, "leaving")
        loop = asyncio.ensure_future(leaving.run())
        await asyncio.wait_for(runner.started.wait(), 5)
        leaving.stop()
        await asyncio.wait_for(loop, 5)
        back = await _task(world, task.id)
        assert (back.status, back.attempt, back.failure_reason) == (TaskStatus.QUEUED, 0, None)
    runner.scripts = ((Log("finished"),),)
    await world.worker(runner, "next").run_one()
    done = await _task(world, task.id)
    assert (done.status, done.attempt, done.worker_id) == (TaskStatus.SUCCEEDED, 1, "next")
    assert [e.attempt for e in runner.executions] == [1, 1, 1]
    assert await _account(world, user.id) == (CREDITS, 0)


async def test_a_crash_taken_over_by_the_stale_sweep_still_spends_its_attempt(world: EngineWorld) -> None:
    user, repo = await world.user_with_repository(credits=CREDITS)
    world.policy = type(world.policy)(max_attempts=2)
    task = (await world.submit(user, repo)).task
    sweeper = world.worker(ScriptedTaskRunner(), "sweeper", stale_after=timedelta(0))
    for _ in range(2):  # claimed, then the worker "dies" (no heartbeat, no hand-back), twice
        assert await world.worker(ScriptedTaskRunner(), "dead").claim() is not None
        assert await sweeper.recover_stale() == 1
    done = await _task(world, task.id)
    assert (done.status, done.attempt, done.failure_reason) == (TaskStatus.FAILED, 2, FailureReason.INTERNAL)
    assert await _account(world, user.id) == (CREDITS, 0)


async def test_work_that_finishes_as_the_worker_shuts_down_is_kept(world: EngineWorld) -> None:
    user, repo = await world.user_with_repository(credits=CREDITS)
    task = (await world.submit(user, repo)).task
    holder: list[TaskWorker] = []

    async def stop_the_worker(_: object) -> None:
        holder[0].stop()
        await asyncio.sleep(0.05)  # the shutdown signal is set while the work is still finishing

    runner = ScriptedTaskRunner(((Do(stop_the_worker), Log("finished")),))
    holder.append(world.worker(runner))
    await asyncio.wait_for(holder[0].run(), 5)
    done = await _task(world, task.id)
    assert (done.status, done.attempt) == (TaskStatus.SUCCEEDED, 1)


# --- BYOK-only tasks: the platform fee -----------------------------------------------------------------

FEE = 20  # TaskPolicy's default platform fee


async def _byok_task(world: EngineWorld, **changes):  # type: ignore[no-untyped-def]
    user, repo = await world.user_with_repository(credits=CREDITS)
    await world.add_own_key(user)
    task = (await world.submit(user, repo, **changes)).task
    return user, task


async def _receipt(world: EngineWorld, user, task_id):  # type: ignore[no-untyped-def]
    return await GetTaskReceipt(world.new_uow())(user.as_actor(), task_id)


async def test_a_byok_only_task_holds_and_pays_only_the_platform_fee(world: EngineWorld) -> None:
    user, task = await _byok_task(world)
    assert (task.platform_fee_credits, task.budget_cap_credits) == (FEE, 1_000)
    assert await _account(world, user.id) == (CREDITS - FEE, FEE)  # not the 1,000 budget
    world.script_answers(2)
    await world.worker(ScriptedTaskRunner(((Call("one"), Call("two")),))).run_one()
    done = await _task(world, task.id)
    assert (done.status, done.settled_credits, done.charge_waived) == (TaskStatus.SUCCEEDED, FEE, False)
    assert await _account(world, user.id) == (CREDITS - FEE, 0)
    receipt = await _receipt(world, user, task.id)
    assert [line.usage.key_source.value for line in receipt.lines] == ["byok", "byok"]
    assert [line.billed_credits for line in receipt.lines] == [0, 0]
    assert receipt.cost_credits > 0  # the calls had a value, paid to the provider on the user's key
    assert (receipt.platform_fee_credits, receipt.settled_credits) == (FEE, FEE)
    assert receipt.platform_fee_credits + sum(line.billed_credits for line in receipt.lines) == FEE
    assert "platform fee" in receipt.note
    assert [api_key for _, api_key in world.chat.created] == [True, True]


async def test_a_task_that_may_fall_back_to_a_platform_key_holds_its_whole_budget(world: EngineWorld) -> None:
    user, repo = await world.user_with_repository(credits=CREDITS)  # no own key: the platform key answers
    task = (await world.submit(user, repo)).task
    assert task.platform_fee_credits is None
    assert await _account(world, user.id) == (CREDITS - 1_000, 1_000)


async def test_a_byok_only_task_never_calls_on_a_platform_key(world: EngineWorld) -> None:
    user, task = await _byok_task(world)
    async with world.new_uow() as uow:  # the own key turns invalid after submit; the platform key remains
        [key] = await uow.api_keys.list_for_user(user.id)
        await uow.api_keys.update(dataclasses.replace(key, status=ApiKeyStatus.INVALID))
        await uow.commit()
    world.script_answers(1)
    await world.worker(ScriptedTaskRunner(((Call("one"),),))).run_one()
    done = await _task(world, task.id)
    assert (done.status, done.failure_reason) == (TaskStatus.FAILED, FailureReason.PROVIDER_ERROR)
    assert (done.settled_credits, done.charge_waived) == (0, True)  # a provider fault: not even the fee
    assert await _account(world, user.id) == (CREDITS, 0)
    assert world.chat.created == []


async def test_a_byok_only_task_cancelled_while_queued_pays_nothing(world: EngineWorld) -> None:
    user, task = await _byok_task(world)
    cancelled = await world.cancel_use_case()(user.as_actor(), task.id)
    assert (cancelled.status, cancelled.settled_credits) == (TaskStatus.CANCELLED, 0)
    assert await _account(world, user.id) == (CREDITS, 0)
    assert (await _receipt(world, user, task.id)).platform_fee_credits == 0


@pytest.mark.parametrize(
    ("script", "status", "reason"),
    [
        ((Fail(FailureReason.INVALID_REQUEST),), TaskStatus.FAILED, FailureReason.INVALID_REQUEST),
        ((Fail(FailureReason.SANDBOX_UNAVAILABLE),), TaskStatus.FAILED, FailureReason.SANDBOX_UNAVAILABLE),
        ((Raise(RuntimeError("boom")),), TaskStatus.FAILED, FailureReason.INTERNAL),
    ],
)
async def test_a_byok_only_task_pays_the_fee_unless_the_platform_is_at_fault(
    world: EngineWorld, script: Any, status: TaskStatus, reason: FailureReason
) -> None:
    user, task = await _byok_task(world)
    await world.worker(ScriptedTaskRunner((script,))).run_one()
    done = await _task(world, task.id)
    assert (done.status, done.failure_reason) == (status, reason)
    expected = 0 if reason.platform_fault else FEE
    assert (done.settled_credits, done.charge_waived) == (expected, reason.platform_fault)
    assert await _account(world, user.id) == (CREDITS - expected, 0)
    receipt = await _receipt(world, user, task.id)
    assert receipt.platform_fee_credits == expected == receipt.settled_credits


async def test_a_running_byok_only_task_cancelled_pays_the_fee(world: EngineWorld) -> None:
    user, task = await _byok_task(world)
    runner = ScriptedTaskRunner(((WaitForCancel(),),))
    worker = world.worker(runner)
    job = asyncio.ensure_future(worker.run_one())
    await asyncio.wait_for(runner.started.wait(), 5)
    await world.cancel_use_case()(user.as_actor(), task.id)
    await asyncio.wait_for(job, 5)

    async def settled() -> bool:
        return (await _task(world, task.id)).settled_credits is not None

    await _wait_for(settled)
    done = await _task(world, task.id)
    assert (done.status, done.settled_credits) == (TaskStatus.CANCELLED, FEE)
    assert await _account(world, user.id) == (CREDITS - FEE, 0)


async def test_the_fee_never_exceeds_the_budget_cap(world: EngineWorld) -> None:
    user, task = await _byok_task(world, budget_cap_credits=5)
    assert task.platform_fee_credits == 5
    assert await _account(world, user.id) == (CREDITS - 5, 5)
