"""Task, task-usage and task-event repositories behave the same on memory, SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta

import pytest

from asynccoder.application.ports.events import TaskEventType
from asynccoder.application.ports.tasks import TaskFilter, TaskUsage
from asynccoder.domain.ai_catalogue import KeySource
from asynccoder.domain.tasks import (
    ConcurrencyLimitReached,
    FailureReason,
    TaskIdempotencyKeyTaken,
    TaskMode,
    TaskResult,
    TaskStatus,
)
from tests.contract.conftest import UowFactory
from tests.support.builders import T0, new_id
from tests.support.tasks import make_task, seed_owner


async def _add(uow_factory: UowFactory, *tasks):  # type: ignore[no-untyped-def]
    async with uow_factory() as uow:
        for task in tasks:
            await uow.tasks.add(task)
        await uow.commit()


async def _claim(uow_factory: UowFactory, worker: str = "w1", now=T0):  # type: ignore[no-untyped-def]
    async with uow_factory() as uow:
        task = await uow.tasks.claim_next(worker, now)
        await uow.commit()
        return task


async def test_a_task_round_trips_and_lists_newest_first_with_filters(uow_factory: UowFactory) -> None:
    (alice, bob), (repo, other) = await seed_owner(uow_factory, users=2, repositories=2)
    first = make_task(alice.id, repo.id, idempotency_key="k1", request_fingerprint="f" * 64)
    second = make_task(alice.id, other.id, mode=TaskMode.DEBUG, created_at=T0 + timedelta(minutes=1))
    third = make_task(bob.id, repo.id, platform_fee_credits=20)
    await _add(uow_factory, first, second, third)
    async with uow_factory() as uow:
        assert await uow.tasks.get(first.id) == first
        assert await uow.tasks.get(third.id) == third  # a BYOK-only task keeps its platform fee
        mine = await uow.tasks.list_page(alice.id, TaskFilter(), 10)
        assert [t.id for t in mine] == [second.id, first.id]
        assert [t.id for t in await uow.tasks.list_page(alice.id, TaskFilter(mode=TaskMode.DEBUG), 10)] == [
            second.id
        ]
        by_repo = await uow.tasks.list_page(alice.id, TaskFilter(repository_id=repo.id), 10)
        assert [t.id for t in by_repo] == [first.id]
        after = await uow.tasks.list_page(alice.id, TaskFilter(created_after=T0 + timedelta(seconds=30)), 10)
        assert [t.id for t in after] == [second.id]
        page2 = await uow.tasks.list_page(alice.id, TaskFilter(cursor=second.id), 10)
        assert [t.id for t in page2] == [first.id]
        assert len(await uow.tasks.list_page(None, TaskFilter(), 10)) == 3
        assert await uow.tasks.find_by_idempotency_key(alice.id, "k1") == first
        assert await uow.tasks.find_by_idempotency_key(bob.id, "k1") is None
        assert await uow.tasks.count_active(alice.id) == 2


async def test_tasks_on_a_repository_are_counted_by_creation_time_and_key_prefix(
    uow_factory: UowFactory,
) -> None:
    (alice,), (repo, other) = await seed_owner(uow_factory, repositories=2)
    day = T0 + timedelta(hours=1)
    for task in (
        make_task(alice.id, repo.id, idempotency_key="github:review:1", created_at=day),
        make_task(
            alice.id, repo.id, idempotency_key="github:comment:2", created_at=day, status=TaskStatus.CANCELLED
        ),
        make_task(alice.id, repo.id, idempotency_key="github:review:old", created_at=T0),
        make_task(alice.id, repo.id, idempotency_key="api-key-1", created_at=day),
        make_task(alice.id, repo.id, created_at=day),
        make_task(alice.id, other.id, idempotency_key="github:review:3", created_at=day),
        make_task(alice.id, repo.id, idempotency_key="github_x", created_at=day),
    ):
        await _add(uow_factory, task)
    async with uow_factory() as uow:
        assert await uow.tasks.count_for_repository_since(repo.id, day, key_prefix="github:") == 2
        assert await uow.tasks.count_for_repository_since(repo.id, T0, key_prefix="github:") == 3
        assert await uow.tasks.count_for_repository_since(other.id, day, key_prefix="github:") == 1


async def test_the_concurrency_limit_counts_queued_and_running_tasks(uow_factory: UowFactory) -> None:
    (alice,), (repo,) = await seed_owner(uow_factory)
    await _add(uow_factory, make_task(alice.id, repo.id, concurrency_limit=2))
    await _add(uow_factory, make_task(alice.id, repo.id, concurrency_limit=2))
    with pytest.raises(ConcurrencyLimitReached) as raised:
        await _add(uow_factory, make_task(alice.id, repo.id, concurrency_limit=2))
    assert raised.value.limit == 2
    claimed = await _claim(uow_factory)
    assert claimed is not None
    async with uow_factory() as uow:
        assert await uow.tasks.finish(claimed.id, "w1", 1, TaskStatus.SUCCEEDED, T0)
        await uow.commit()
    await _add(uow_factory, make_task(alice.id, repo.id, concurrency_limit=2))  # a slot was freed


async def test_two_workers_racing_to_claim_one_task_one_wins(uow_factory: UowFactory) -> None:
    (alice,), (repo,) = await seed_owner(uow_factory)
    task = make_task(alice.id, repo.id)
    await _add(uow_factory, task)
    results = await asyncio.gather(*(_claim(uow_factory, f"w{i}") for i in range(6)))
    winners = [r for r in results if r is not None]
    assert len(winners) == 1
    won = winners[0]
    assert (won.id, won.status, won.attempt, won.heartbeat_at) == (task.id, TaskStatus.RUNNING, 1, T0)
    async with uow_factory() as uow:
        stored = await uow.tasks.get(task.id)
    assert stored is not None
    assert stored.worker_id == won.worker_id


async def test_a_stale_worker_loses_every_write_after_a_cancel(uow_factory: UowFactory) -> None:
    (alice,), (repo,) = await seed_owner(uow_factory)
    task = make_task(alice.id, repo.id)
    await _add(uow_factory, task)
    assert await _claim(uow_factory) is not None
    async with uow_factory() as uow:
        assert await uow.tasks.cancel(task.id, T0)
        assert not await uow.tasks.cancel(task.id, T0)  # repeating is harmless and reports no change
        await uow.commit()
    async with uow_factory() as uow:
        assert not await uow.tasks.heartbeat(task.id, "w1", 1, T0)
        assert not await uow.tasks.finish(
            task.id, "w1", 1, TaskStatus.SUCCEEDED, T0, result=TaskResult("done")
        )
        assert not await uow.tasks.requeue(task.id, "w1", 1, T0, None)
        await uow.commit()
        stored = await uow.tasks.get(task.id)
    assert stored is not None
    assert (stored.status, stored.result) == (TaskStatus.CANCELLED, None)
    async with uow_factory() as uow:
        assert await uow.tasks.count_active(alice.id) == 0


async def test_a_taken_over_attempt_cannot_finish(uow_factory: UowFactory) -> None:
    (alice,), (repo,) = await seed_owner(uow_factory)
    task = make_task(alice.id, repo.id)
    await _add(uow_factory, task)
    await _claim(uow_factory, "old")
    async with uow_factory() as uow:  # recovery hands the attempt back (any worker)
        assert [t.id for t in await uow.tasks.find_stale(T0 + timedelta(minutes=1), 10)] == [task.id]
        assert await uow.tasks.requeue(task.id, None, 1, T0, None, failure_reason=FailureReason.INTERNAL)
        await uow.commit()
    second = await _claim(uow_factory, "new")
    assert second is not None
    assert second.attempt == 2
    async with uow_factory() as uow:
        assert not await uow.tasks.finish(task.id, "old", 1, TaskStatus.FAILED, T0)
        assert await uow.tasks.finish(task.id, "new", 2, TaskStatus.SUCCEEDED, T0 + timedelta(seconds=9))
        await uow.commit()
        done = await uow.tasks.get(task.id)
        assert done is not None
        assert done.status is TaskStatus.SUCCEEDED
        assert await uow.tasks.recent_durations(5) == [9.0]


async def test_a_requeued_task_waits_for_its_not_before(uow_factory: UowFactory) -> None:
    (alice,), (repo,) = await seed_owner(uow_factory)
    task = make_task(alice.id, repo.id)
    await _add(uow_factory, task)
    await _claim(uow_factory)
    later = T0 + timedelta(seconds=30)
    async with uow_factory() as uow:
        assert await uow.tasks.requeue(task.id, "w1", 1, T0, later, failure_reason=FailureReason.TIMEOUT)
        await uow.commit()
    assert await _claim(uow_factory, now=T0 + timedelta(seconds=29)) is None
    again = await _claim(uow_factory, now=later)
    assert again is not None
    assert again.attempt == 2


async def test_a_shutdown_hand_back_gives_the_attempt_back_and_the_old_run_still_loses(
    uow_factory: UowFactory,
) -> None:
    (alice,), (repo,) = await seed_owner(uow_factory)
    task = make_task(alice.id, repo.id)
    await _add(uow_factory, task)
    await _claim(uow_factory, "leaving")
    async with uow_factory() as uow:
        assert await uow.tasks.requeue(task.id, "leaving", 1, T0, None, give_back_attempt=True)
        await uow.commit()
        back = await uow.tasks.get(task.id)
    assert back is not None
    assert (back.status, back.attempt) == (TaskStatus.QUEUED, 0)
    again = await _claim(uow_factory, "next")
    assert again is not None
    assert (again.attempt, again.worker_id) == (1, "next")
    async with uow_factory() as uow:  # the same attempt number, but the leaving worker's writes lose
        assert not await uow.tasks.heartbeat(task.id, "leaving", 1, T0)
        assert not await uow.tasks.finish(task.id, "leaving", 1, TaskStatus.FAILED, T0)
        assert not await uow.tasks.requeue(task.id, "leaving", 1, T0, None)
        assert await uow.tasks.finish(task.id, "next", 1, TaskStatus.SUCCEEDED, T0)
        await uow.commit()


async def test_writing_tasks_on_one_repository_never_run_at_once(uow_factory: UowFactory) -> None:
    (alice, bob), (repo,) = await seed_owner(uow_factory, users=2)
    first = make_task(alice.id, repo.id, mode=TaskMode.DEBUG)
    second = make_task(bob.id, repo.id, mode=TaskMode.DOCUMENTATION, created_at=T0 + timedelta(seconds=1))
    reader = make_task(bob.id, repo.id, mode=TaskMode.ASK, created_at=T0 + timedelta(seconds=2))
    await _add(uow_factory, first, second, reader)
    claimed = [await _claim(uow_factory, f"w{i}") for i in range(3)]
    assert [t.id if t else None for t in claimed] == [first.id, reader.id, None]
    async with uow_factory() as uow:
        assert await uow.tasks.finish(first.id, "w0", 1, TaskStatus.FAILED, T0)
        await uow.commit()
    nxt = await _claim(uow_factory)
    assert nxt is not None
    assert nxt.id == second.id


async def _claim_one(uow_factory: UowFactory, task_id, worker: str = "w1", now=T0):  # type: ignore[no-untyped-def]
    async with uow_factory() as uow:
        task = await uow.tasks.claim(task_id, worker, now)
        await uow.commit()
        return task


async def test_a_task_is_claimed_by_id_only_when_runnable_and_only_once(uow_factory: UowFactory) -> None:
    (alice, bob), (repo,) = await seed_owner(uow_factory, users=2)
    writer = make_task(alice.id, repo.id, mode=TaskMode.DEBUG)
    second_writer = make_task(
        bob.id, repo.id, mode=TaskMode.DOCUMENTATION, created_at=T0 + timedelta(seconds=1)
    )
    reader = make_task(bob.id, repo.id, created_at=T0 + timedelta(seconds=2))
    await _add(uow_factory, writer, second_writer, reader)
    # Out of fair order (procrastinate hands out tasks by id), but the repository lock still holds.
    claimed = await _claim_one(uow_factory, second_writer.id, "w1")
    assert claimed is not None
    assert (claimed.status, claimed.attempt, claimed.worker_id) == (TaskStatus.RUNNING, 1, "w1")
    assert await _claim_one(uow_factory, writer.id, "w2") is None  # the repository is being written
    assert await _claim_one(uow_factory, second_writer.id, "w2") is None  # already running
    assert await _claim_one(uow_factory, reader.id, "w2") is not None  # a reader needs no lock
    async with uow_factory() as uow:
        assert await uow.tasks.requeue(
            second_writer.id, "w1", 1, T0, T0 + timedelta(seconds=30), failure_reason=FailureReason.TIMEOUT
        )
        await uow.commit()
    assert (
        await _claim_one(uow_factory, second_writer.id, "w3", T0 + timedelta(seconds=29)) is None
    )  # not due
    first = await _claim_one(uow_factory, writer.id, "w3")  # the requeue freed the lock
    assert first is not None
    assert first.worker_id == "w3"
    async with uow_factory() as uow:
        assert await uow.tasks.cancel(first.id, T0)
        await uow.commit()
    assert await _claim_one(uow_factory, first.id, "w4") is None  # a cancelled task is never claimed
    again = await _claim_one(uow_factory, second_writer.id, "w4", T0 + timedelta(seconds=30))
    assert again is not None
    assert again.attempt == 2


async def test_one_users_many_tasks_do_not_starve_anothers_one(uow_factory: UowFactory) -> None:
    (busy, light), (repo,) = await seed_owner(uow_factory, users=2)
    many = [make_task(busy.id, repo.id, created_at=T0 + timedelta(seconds=i)) for i in range(50)]
    one = make_task(light.id, repo.id, created_at=T0 + timedelta(minutes=5))
    await _add(uow_factory, *many, one)
    async with uow_factory() as uow:
        assert await uow.tasks.queue_position(one.id, T0) == 1
        assert await uow.tasks.queue_position(many[0].id, T0) == 0
        assert await uow.tasks.queue_position(many[1].id, T0) == 2
    order = [await _claim(uow_factory, now=T0 + timedelta(hours=1)) for _ in range(3)]
    assert [t.id for t in order if t] == [many[0].id, one.id, many[1].id]


async def test_higher_plans_are_picked_first(uow_factory: UowFactory) -> None:
    (free, pro, enterprise), (repo,) = await seed_owner(uow_factory, users=3)
    tasks = [
        make_task(free.id, repo.id, priority_class=0, created_at=T0),
        make_task(pro.id, repo.id, priority_class=2, created_at=T0 + timedelta(seconds=1)),
        make_task(enterprise.id, repo.id, priority_class=4, created_at=T0 + timedelta(seconds=2)),
    ]
    await _add(uow_factory, *tasks)
    order = [await _claim(uow_factory, now=T0 + timedelta(hours=1)) for _ in range(3)]
    assert [t.user_id for t in order if t] == [enterprise.id, pro.id, free.id]


async def test_only_a_queued_task_can_be_edited(uow_factory: UowFactory) -> None:
    (alice,), (repo,) = await seed_owner(uow_factory)
    task = make_task(alice.id, repo.id)
    await _add(uow_factory, task)
    async with uow_factory() as uow:
        assert await uow.tasks.update_queued(task.id, T0, instructions="New words", priority=9)
        await uow.commit()
    claimed = await _claim(uow_factory)
    assert claimed is not None
    assert (claimed.instructions, claimed.priority) == ("New words", 9)
    async with uow_factory() as uow:
        assert not await uow.tasks.update_queued(task.id, T0, instructions="Too late", priority=None)


async def test_a_settlement_is_recorded_once_and_only_for_ended_tasks(uow_factory: UowFactory) -> None:
    (alice,), (repo,) = await seed_owner(uow_factory)
    task = make_task(alice.id, repo.id, hold_id=new_id())
    await _add(uow_factory, task)
    async with uow_factory() as uow:
        assert not await uow.tasks.record_settlement(task.id, 5, False)
        assert await uow.tasks.cancel(task.id, T0)
        assert [t.id for t in await uow.tasks.find_unsettled(T0 + timedelta(seconds=1), 10)] == [task.id]
        assert await uow.tasks.record_settlement(task.id, 0, True)
        assert not await uow.tasks.record_settlement(task.id, 7, False)
        await uow.commit()
        stored = await uow.tasks.get(task.id)
        assert stored is not None
        assert (stored.settled_credits, stored.charge_waived) == (0, True)
        assert await uow.tasks.find_unsettled(T0 + timedelta(seconds=1), 10) == []
        counts = await uow.tasks.status_mode_counts(alice.id)
        assert [(c.status, c.mode, c.count) for c in counts] == [(TaskStatus.CANCELLED, TaskMode.ASK, 1)]


async def test_usage_rows_sum_per_task_and_per_day(uow_factory: UowFactory) -> None:
    (alice,), (repo,) = await seed_owner(uow_factory)
    task = make_task(alice.id, repo.id)
    await _add(uow_factory, task)
    model_id = new_id()

    def usage(minutes: int, charged: int) -> TaskUsage:
        return TaskUsage(
            new_id(), task.id, alice.id, 1, model_id, "claude-x", KeySource.PLATFORM,
            100, 10, 50, 5, charged, charged, None, T0 + timedelta(minutes=minutes),
        )  # fmt: skip

    rows = [usage(0, 3), usage(1, 4), usage(60 * 24, 5)]
    async with uow_factory() as uow:
        for row in rows:
            await uow.task_usage.add(row)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.task_usage.list_for_task(task.id) == rows
        assert await uow.task_usage.charged_total(task.id) == 12
        daily = await uow.task_usage.daily(alice.id, T0.date(), T0.date() + timedelta(days=1))
    assert [(d.day, d.calls, d.input_tokens, d.cache_read_tokens, d.charged_credits) for d in daily] == [
        (T0.date(), 2, 200, 100, 7),
        (T0.date() + timedelta(days=1), 1, 100, 50, 5),
    ]


async def test_event_sequences_are_gap_free_under_concurrent_appends(uow_factory: UowFactory) -> None:
    (alice,), (repo,) = await seed_owner(uow_factory)
    task = make_task(alice.id, repo.id)
    await _add(uow_factory, task)

    async def append(i: int, commit: bool) -> None:
        async with uow_factory() as uow:
            await uow.task_events.append(task.id, TaskEventType.LOG, {"i": i}, T0)
            if commit:
                await uow.commit()

    await asyncio.gather(*(append(i, commit=i % 5 != 0) for i in range(30)))
    async with uow_factory() as uow:
        await uow.task_events.append(task.id, TaskEventType.STATUS, {"status": "running"}, T0)
        await uow.commit()
        events = await uow.task_events.list_after(task.id, 0, limit=100)
        assert [e.seq for e in events] == list(range(1, 26))
        assert sorted(e.data["i"] for e in events if e.type is TaskEventType.LOG) == [
            i for i in range(30) if i % 5 != 0
        ]
        tail = await uow.task_events.list_after(task.id, 20, limit=3)
        assert [e.seq for e in tail] == [21, 22, 23]
        status = await uow.task_events.list_after(task.id, 0, limit=10, type=TaskEventType.STATUS)
        assert [e.data for e in status] == [{"status": "running"}]


async def test_concurrent_adds_never_exceed_the_concurrency_limit(uow_factory: UowFactory) -> None:
    (alice,), (repo,) = await seed_owner(uow_factory)

    async def add() -> bool:
        try:
            await _add(uow_factory, make_task(alice.id, repo.id, concurrency_limit=3))
        except ConcurrencyLimitReached:
            return False
        return True

    results = await asyncio.gather(*(add() for _ in range(10)))
    assert results.count(True) == 3
    async with uow_factory() as uow:
        assert await uow.tasks.count_active(alice.id) == 3


def test_builder_defaults_are_queued() -> None:
    task = make_task(new_id(), new_id())
    assert dataclasses.replace(task).status is TaskStatus.QUEUED


async def test_an_idempotency_key_is_unique_per_user_and_a_clash_writes_nothing(
    uow_factory: UowFactory,
) -> None:
    (alice, bob), (repo,) = await seed_owner(uow_factory, users=2)
    await _add(uow_factory, make_task(alice.id, repo.id, idempotency_key="k"))
    with pytest.raises(TaskIdempotencyKeyTaken):
        await _add(uow_factory, make_task(alice.id, repo.id, idempotency_key="k"))
    await _add(uow_factory, make_task(bob.id, repo.id, idempotency_key="k"))  # another user's key space
    async with uow_factory() as uow:
        assert await uow.tasks.count_active(alice.id) == 1
