"""Task use cases on the in-memory adapters: submit rules, idempotency, reads, edits, cancel, receipt."""

from __future__ import annotations

from datetime import timedelta

import pytest

from asynccoder.adapters.memory.code_hosting import InMemoryCodeHost
from asynccoder.adapters.memory.store import InMemoryStore
from asynccoder.adapters.memory.uow import InMemoryUnitOfWork
from asynccoder.adapters.system.platform_access import ConfiguredPlatformKeys
from asynccoder.application.ports.code_hosting import HostedPullRequest
from asynccoder.application.ports.events import TaskEventType
from asynccoder.application.tasks.manage import (
    GetTask,
    GetTaskReceipt,
    ListTaskLogs,
    ListTasks,
    ListTasksInput,
    TaskAnalytics,
    TaskAnalyticsInput,
    UpdateTask,
    UpdateTaskInput,
    estimate_eta,
    percentile,
)
from asynccoder.domain.billing import InsufficientCredits
from asynccoder.domain.code_hosting import Permission, PullRequestState, Repository
from asynccoder.domain.errors import Conflict, Forbidden, InvalidInput, NotFound, Refused
from asynccoder.domain.identity import Role
from asynccoder.domain.tasks import (
    ConcurrencyLimitReached,
    TaskFinished,
    TaskMode,
    TaskNotFound,
    TaskNotQueued,
    TaskStatus,
)
from tests.support.builders import T0
from tests.support.code_hosting import make_pull
from tests.support.system import ManualClock
from tests.support.task_engine import (
    Call,
    EngineWorld,
    FixedToken,
    Log,
    ScriptedTaskRunner,
    sequential_ids,
)


@pytest.fixture
async def world() -> EngineWorld:
    store = InMemoryStore()
    w = EngineWorld(lambda: InMemoryUnitOfWork(store), ManualClock(T0), ids=sequential_ids())
    await w.seed()
    return w


async def _balance(world: EngineWorld, user_id) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    async with world.new_uow() as uow:
        account = await uow.credits.get_account(user_id)
    return account.available, account.held


async def test_submitting_holds_the_budget_and_queues_with_a_first_status_event(world: EngineWorld) -> None:
    user, repo = await world.user_with_repository(credits=5_000)
    submitted = await world.submit(user, repo, budget_cap_credits=1_200)
    task = submitted.task
    assert (task.status, task.budget_cap_credits, task.concurrency_limit) == (TaskStatus.QUEUED, 1_200, 1)
    assert await _balance(world, user.id) == (3_800, 1_200)
    async with world.new_uow() as uow:
        events = await uow.task_events.list_after(task.id, 0, limit=10)
    assert [(e.seq, e.type, e.data["status"]) for e in events] == [(1, TaskEventType.STATUS, "queued")]


async def test_submit_checks_repository_access_and_the_modes_permission(world: EngineWorld) -> None:
    reader, repo = await world.user_with_repository(permission=Permission.READ)
    stranger, _ = await world.user_with_repository()
    with pytest.raises(NotFound):
        await world.submit(stranger, repo)
    with pytest.raises(Forbidden) as raised:
        await world.submit(reader, repo, mode=TaskMode.DEBUG)
    assert raised.value.code == "repository_write_access_required"
    with pytest.raises(InvalidInput):
        await world.submit(reader, repo, mode=TaskMode.PR_REVIEW)
    await _record_pull(world, repo, 4)
    review = await world.submit(reader, repo, mode=TaskMode.PR_REVIEW, pull_request_number=4)
    assert review.task.pull_request_number == 4


async def _record_pull(world: EngineWorld, repo: Repository, number: int) -> None:
    async with world.new_uow() as uow:
        await uow.pull_requests.upsert(make_pull(repo.id, number))
        await uow.commit()


def _host_with_pull(world: EngineWorld, repo: Repository, number: int | None) -> None:
    """The code host knows the repository (and pull request ``number``, if given) for the token "tok"."""
    host = InMemoryCodeHost(now=T0)
    host.add_repository(repo.full_name, host_id=77, access={"tok": Permission.READ})
    if number is not None:
        host.pulls[(repo.full_name, number)] = HostedPullRequest(
            number, "Fix", None, PullRequestState.OPEN, "octocat", "fix", "abc", "main", None, False, T0, T0
        )
    world.code_host, world.tokens = host, FixedToken("tok")


async def test_a_review_of_a_pull_request_the_repository_does_not_have_is_refused(world: EngineWorld) -> None:
    user, repo = await world.user_with_repository(credits=5_000)
    await _record_pull(world, repo, 4)
    _host_with_pull(world, repo, None)
    with pytest.raises(NotFound) as raised:
        await world.submit(user, repo, mode=TaskMode.PR_REVIEW, pull_request_number=5)
    assert raised.value.code == "pull_request_not_found"
    assert await _balance(world, user.id) == (5_000, 0)
    recorded = await world.submit(user, repo, mode=TaskMode.PR_REVIEW, pull_request_number=4)
    assert recorded.task.pull_request_number == 4


async def test_a_pull_request_not_recorded_yet_is_looked_up_on_the_code_host(world: EngineWorld) -> None:
    user, repo = await world.user_with_repository(credits=5_000)
    _host_with_pull(world, repo, 9)
    with pytest.raises(NotFound) as raised:
        await world.submit(user, repo, mode=TaskMode.PR_REVIEW, pull_request_number=10)
    assert raised.value.code == "pull_request_not_found"
    found = await world.submit(user, repo, mode=TaskMode.PR_REVIEW, pull_request_number=9)
    assert found.task.pull_request_number == 9


async def test_the_plans_concurrency_limit_refuses_with_its_limit(world: EngineWorld) -> None:
    user, repo = await world.user_with_repository()
    await world.submit(user, repo)  # the Free plan allows one active task
    with pytest.raises(ConcurrencyLimitReached) as raised:
        await world.submit(user, repo)
    assert (raised.value.code, raised.value.limit) == ("concurrency_limit_reached", 1)
    assert await _balance(world, user.id) == (9_000, 1_000)  # the refused submit held nothing


async def test_without_enough_credits_nothing_is_queued(world: EngineWorld) -> None:
    user, repo = await world.user_with_repository(credits=500)
    with pytest.raises(InsufficientCredits):
        await world.submit(user, repo, budget_cap_credits=501)
    async with world.new_uow() as uow:
        assert await uow.tasks.count_active(user.id) == 0


async def test_an_idempotency_key_replays_the_same_task_and_refuses_another_body(world: EngineWorld) -> None:
    user, repo = await world.user_with_repository()
    first = await world.submit(user, repo, idempotency_key="abc")
    again = await world.submit(user, repo, idempotency_key="abc")
    assert (again.task.id, again.replayed) == (first.task.id, True)
    with pytest.raises(Conflict) as raised:
        await world.submit(user, repo, idempotency_key="abc", instructions="Something else.")
    assert raised.value.code == "idempotency_key_reused"
    assert await _balance(world, user.id) == (9_000, 1_000)


async def test_an_unknown_explicit_model_is_refused(world: EngineWorld) -> None:
    user, repo = await world.user_with_repository()
    with pytest.raises(NotFound):
        await world.submit(user, repo, model_id=repo.id)
    ok = await world.submit(user, repo, model_id=world.model.id)
    assert ok.task.model_id == world.model.id


async def test_a_task_no_model_can_serve_is_refused_before_anything_is_held(world: EngineWorld) -> None:
    user, repo = await world.user_with_repository(credits=5_000)
    world.platform = ConfiguredPlatformKeys({})  # no platform key, and the user has no own key
    with pytest.raises(Refused) as automatic:
        await world.submit(user, repo)
    with pytest.raises(Refused) as explicit:
        await world.submit(user, repo, model_id=world.model.id)
    assert (automatic.value.code, explicit.value.code) == ("no_model_available", "no_provider_key")
    assert await _balance(world, user.id) == (5_000, 0)
    async with world.new_uow() as uow:
        assert await uow.tasks.count_active(user.id) == 0


async def test_another_users_task_is_not_found_everywhere(world: EngineWorld) -> None:
    owner, repo = await world.user_with_repository()
    other, _ = await world.user_with_repository()
    task = (await world.submit(owner, repo)).task
    actor = other.as_actor()
    with pytest.raises(TaskNotFound):
        await GetTask(world.new_uow(), world.clock)(actor, task.id)
    with pytest.raises(TaskNotFound):
        await world.cancel_use_case()(actor, task.id)
    with pytest.raises(TaskNotFound):
        await UpdateTask(world.new_uow(), world.clock)(UpdateTaskInput(actor, task.id, priority=1))
    with pytest.raises(TaskNotFound):
        await ListTaskLogs(world.new_uow())(actor, task.id)
    with pytest.raises(TaskNotFound):
        await GetTaskReceipt(world.new_uow())(actor, task.id)
    assert (await ListTasks(world.new_uow())(ListTasksInput(actor))).items == []


async def test_a_queued_task_shows_its_position_and_an_eta_from_recent_runs(world: EngineWorld) -> None:
    user, repo = await world.user_with_repository()
    view = await GetTask(world.new_uow(), world.clock)(
        user.as_actor(), (await world.submit(user, repo)).task.id
    )
    assert (view.queue_position, view.eta_seconds) == (0, None)
    assert estimate_eta(2, [10.0, 30.0, 20.0]) == 60
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.0
    assert percentile([], 0.9) is None


async def test_a_queued_task_can_be_edited_and_a_started_one_cannot(world: EngineWorld) -> None:
    user, repo = await world.user_with_repository()
    task = (await world.submit(user, repo)).task
    update = UpdateTask(world.new_uow(), world.clock)
    changed = await update(UpdateTaskInput(user.as_actor(), task.id, instructions=" New ", priority=8))
    assert (changed.instructions, changed.priority) == ("New", 8)
    with pytest.raises(InvalidInput):
        await update(UpdateTaskInput(user.as_actor(), task.id, priority=11))
    async with world.new_uow() as uow:
        await uow.tasks.claim_next("w", world.clock.now())
        await uow.commit()
    with pytest.raises(TaskNotQueued):
        await update(UpdateTaskInput(user.as_actor(), task.id, priority=1))


async def test_cancelling_a_queued_task_releases_its_hold_and_repeating_is_harmless(
    world: EngineWorld,
) -> None:
    user, repo = await world.user_with_repository()
    task = (await world.submit(user, repo)).task
    cancel = world.cancel_use_case()
    cancelled = await cancel(user.as_actor(), task.id)
    assert (cancelled.status, cancelled.settled_credits) == (TaskStatus.CANCELLED, 0)
    assert await _balance(world, user.id) == (10_000, 0)
    again = await cancel(user.as_actor(), task.id)
    assert again.status is TaskStatus.CANCELLED
    async with world.new_uow() as uow:
        assert await uow.tasks.claim_next("w", world.clock.now()) is None


async def test_a_finished_task_cannot_be_cancelled(world: EngineWorld) -> None:
    user, repo = await world.user_with_repository()
    task = (await world.submit(user, repo)).task
    world.script_answers(1)
    await world.worker(ScriptedTaskRunner()).run_one()
    with pytest.raises(TaskFinished):
        await world.cancel_use_case()(user.as_actor(), task.id)


async def test_logs_page_in_order_and_the_receipt_sums_to_the_settled_amount(world: EngineWorld) -> None:
    user, repo = await world.user_with_repository()
    task = (await world.submit(user, repo)).task
    world.script_answers(2)
    runner = ScriptedTaskRunner(((Log("one"), Call("a"), Log("two"), Call("b"), Log("three")),))
    await world.worker(runner).run_one()
    logs = ListTaskLogs(world.new_uow())
    first = await logs(user.as_actor(), task.id, limit=2)
    assert [e.data["message"] for e in first.items] == ["one", "two"]
    assert first.next_after is not None
    rest = await logs(user.as_actor(), task.id, after=first.next_after, limit=2)
    assert ([e.data["message"] for e in rest.items], rest.next_after) == (["three"], None)
    receipt = await GetTaskReceipt(world.new_uow())(user.as_actor(), task.id)
    assert len(receipt.lines) == 2
    assert receipt.settled_credits == sum(line.billed_credits for line in receipt.lines) > 0
    assert not receipt.waived
    assert await _balance(world, user.id) == (10_000 - receipt.settled_credits, 0)


async def test_analytics_are_per_user_and_for_everyone_only_for_admins(world: EngineWorld) -> None:
    user, repo = await world.user_with_repository()
    await world.submit(user, repo)
    analytics = TaskAnalytics(world.new_uow())
    report = await analytics(TaskAnalyticsInput(user.as_actor(), T0.date(), T0.date()))
    assert [(c.status, c.count) for c in report.counts] == [(TaskStatus.QUEUED, 1)]
    with pytest.raises(Forbidden):
        await analytics(TaskAnalyticsInput(user.as_actor(), T0.date(), T0.date(), all_users=True))
    admin = user.as_actor().__class__(user.id, Role.ADMIN)
    everyone = await analytics(
        TaskAnalyticsInput(admin, T0.date(), T0.date() + timedelta(days=1), all_users=True)
    )
    assert everyone.durations.count == 0
