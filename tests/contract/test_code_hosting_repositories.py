"""Code-hosting repositories (repos, pulls, deliveries, outbox): one contract on every backend."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from asynccoder.adapters.sqlalchemy.uow import SqlAlchemyUnitOfWork
from asynccoder.domain.code_hosting import (
    CommentKind,
    Permission,
    PullRequestComment,
    PullRequestReview,
    PullRequestState,
    RepositoryAccess,
    RepositoryEvent,
    RepositoryWebhook,
)
from asynccoder.domain.errors import Conflict
from tests.contract.conftest import UowFactory
from tests.support.builders import T0, make_user, new_id
from tests.support.code_hosting import make_pull, make_repository, seed_repository


async def test_a_repository_is_found_by_host_id_or_full_name_case_insensitively(
    uow_factory: UowFactory,
) -> None:
    user = make_user()
    repo = await seed_repository(uow_factory(), users=[(user, Permission.READ)], secret=None)
    async with uow_factory() as uow:
        assert await uow.repositories.get(repo.id) == repo
        assert await uow.repositories.find("github", repo.host_id, "x/y") == repo
        assert await uow.repositories.find("github", None, repo.full_name.upper()) == repo
        assert await uow.repositories.find("local", None, repo.full_name) is None


async def test_a_second_repository_with_the_same_host_id_is_a_conflict(uow_factory: UowFactory) -> None:
    repo = await seed_repository(uow_factory(), users=[(make_user(), Permission.READ)], secret=None)
    async with uow_factory() as uow:
        with pytest.raises(Conflict):
            await uow.repositories.add(make_repository(host_id=repo.host_id, full_name="other/name"))


async def test_access_rows_are_per_user_and_listing_shows_only_the_callers(uow_factory: UowFactory) -> None:
    ada, bob = make_user(), make_user()
    repo = await seed_repository(
        uow_factory(), users=[(ada, Permission.ADMIN), (bob, Permission.READ)], secret=None
    )
    other = await seed_repository(
        uow_factory(),
        users=[(ada, Permission.WRITE)],
        secret=None,
        repository=make_repository(host_id=7, full_name="a/b"),
    )
    async with uow_factory() as uow:
        ada_rows = await uow.repositories.list_for_user(ada.id, limit=10, before=None)
        bob_rows = await uow.repositories.list_for_user(bob.id, limit=10, before=None)
        page = await uow.repositories.list_for_user(ada.id, limit=1, before=other.id)
    assert [(r.repository.id, r.permission) for r in ada_rows] == [
        (other.id, Permission.WRITE),
        (repo.id, Permission.ADMIN),
    ]
    assert [r.repository.id for r in bob_rows] == [repo.id]
    assert [r.repository.id for r in page] == [repo.id]


async def test_saving_access_again_updates_the_level(uow_factory: UowFactory) -> None:
    ada = make_user()
    repo = await seed_repository(uow_factory(), users=[(ada, Permission.READ)], secret=None)
    later = T0 + timedelta(hours=1)
    async with uow_factory() as uow:
        await uow.repositories.save_access(RepositoryAccess(ada.id, repo.id, Permission.ADMIN, later, later))
        await uow.commit()
    async with uow_factory() as uow:
        access = await uow.repositories.get_access(ada.id, repo.id)
        assert access is not None
        assert access.permission is Permission.ADMIN
        assert access.created_at == T0
        assert await uow.repositories.delete_access(ada.id, repo.id)
        assert not await uow.repositories.delete_access(ada.id, repo.id)


async def test_only_one_webhook_per_repository(uow_factory: UowFactory) -> None:
    repo = await seed_repository(uow_factory(), users=[(make_user(), Permission.ADMIN)], secret=None)
    first = RepositoryWebhook(new_id(), repo.id, "v1.k1.a", T0)
    second = RepositoryWebhook(new_id(), repo.id, "v1.k1.b", T0)
    async with uow_factory() as uow:
        assert await uow.repositories.add_webhook_if_absent(first)
        assert not await uow.repositories.add_webhook_if_absent(second)
        await uow.repositories.set_webhook_host_id(first.id, 99)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.repositories.get_webhook(repo.id) == replace(first, host_hook_id=99)
        assert await uow.repositories.delete_webhook(repo.id) == replace(first, host_hook_id=99)
        assert await uow.repositories.delete_webhook(repo.id) is None


async def test_pushes_never_move_back_in_time(uow_factory: UowFactory) -> None:
    repo = await seed_repository(uow_factory(), users=[(make_user(), Permission.ADMIN)], secret=None)
    async with uow_factory() as uow:
        assert await uow.repositories.record_push(repo.id, "new", T0 + timedelta(minutes=2))
        assert not await uow.repositories.record_push(repo.id, "old", T0 + timedelta(minutes=1))
        await uow.commit()
    async with uow_factory() as uow:
        stored = await uow.repositories.get(repo.id)
    assert stored is not None
    assert stored.head_sha == "new"


async def test_pull_request_upserts_keep_the_newest_snapshot(uow_factory: UowFactory) -> None:
    repo = await seed_repository(uow_factory(), users=[(make_user(), Permission.ADMIN)], secret=None)
    newer = make_pull(repo.id, state=PullRequestState.CLOSED, source_updated_at=T0 + timedelta(minutes=5))
    older = make_pull(repo.id, title="Old", source_updated_at=T0)
    async with uow_factory() as uow:
        stored = await uow.pull_requests.upsert(newer)
        again = await uow.pull_requests.upsert(older)
        await uow.commit()
    assert stored.id == newer.id
    assert again.id == newer.id
    assert again.state is PullRequestState.CLOSED
    assert again.title == "Title"


async def test_a_stub_is_replaced_by_any_real_snapshot_and_platform_origin_sticks(
    uow_factory: UowFactory,
) -> None:
    repo = await seed_repository(uow_factory(), users=[(make_user(), Permission.ADMIN)], secret=None)
    stub = make_pull(repo.id, head_ref="", source_updated_at=None, opened_by_platform=True)
    real = make_pull(repo.id, head_ref="topic", source_updated_at=T0 - timedelta(days=300))
    async with uow_factory() as uow:
        await uow.pull_requests.upsert(stub)
        stored = await uow.pull_requests.upsert(real)
        await uow.commit()
    assert stored.id == stub.id
    assert stored.head_ref == "topic"
    assert stored.opened_by_platform


async def test_pull_requests_are_listed_newest_first_with_a_state_filter(uow_factory: UowFactory) -> None:
    repo = await seed_repository(uow_factory(), users=[(make_user(), Permission.ADMIN)], secret=None)
    one = make_pull(repo.id, 1)
    two = make_pull(repo.id, 2, state=PullRequestState.MERGED)
    three = make_pull(repo.id, 3)
    async with uow_factory() as uow:
        for pr in (one, two, three):
            await uow.pull_requests.upsert(pr)
        await uow.commit()
    async with uow_factory() as uow:
        everything = await uow.pull_requests.list_for_repository(repo.id, state=None, limit=10, before=None)
        open_ = await uow.pull_requests.list_for_repository(
            repo.id, state=PullRequestState.OPEN, limit=10, before=None
        )
        page = await uow.pull_requests.list_for_repository(repo.id, state=None, limit=1, before=three.id)
    assert [p.number for p in everything] == [3, 2, 1]
    assert [p.number for p in open_] == [3, 1]
    assert [p.number for p in page] == [2]


async def test_reviews_and_comments_follow_their_rules(uow_factory: UowFactory) -> None:
    repo = await seed_repository(uow_factory(), users=[(make_user(), Permission.ADMIN)], secret=None)
    pr = make_pull(repo.id)

    def review(state: str) -> PullRequestReview:
        return PullRequestReview(new_id(), pr.id, 80, "hubot", state, None, None, T0, T0, T0)

    def comment(body: str, at: int, deleted: bool = False) -> PullRequestComment:
        return PullRequestComment(
            new_id(), pr.id, CommentKind.REVIEW_COMMENT, 2, "bot", body, T0, T0,
            deleted=deleted, source_updated_at=T0 + timedelta(minutes=at),
        )  # fmt: skip

    async with uow_factory() as uow:
        await uow.pull_requests.upsert(pr)
        await uow.pull_requests.upsert_review(review("approved"))
        await uow.pull_requests.upsert_review(review("dismissed"))
        await uow.pull_requests.upsert_review(review("approved"))
        await uow.pull_requests.upsert_comment(comment("v2", 2))
        await uow.pull_requests.upsert_comment(comment("v1", 1))
        await uow.commit()
    async with uow_factory() as uow:
        [stored_review] = await uow.pull_requests.list_reviews(pr.id)
        [stored_comment] = await uow.pull_requests.list_comments(pr.id)
    assert stored_review.state == "dismissed"
    assert stored_comment.body == "v2"
    async with uow_factory() as uow:
        await uow.pull_requests.upsert_comment(comment("gone", 0, deleted=True))
        await uow.pull_requests.upsert_comment(comment("v3", 9))
        await uow.commit()
    async with uow_factory() as uow:
        [stored_comment] = await uow.pull_requests.list_comments(pr.id)
    assert stored_comment.deleted


async def test_an_inline_comment_keeps_its_side_and_start_line(uow_factory: UowFactory) -> None:
    repo = await seed_repository(uow_factory(), users=[(make_user(), Permission.ADMIN)], secret=None)
    pr = make_pull(repo.id)

    def inline(host_id: int | None, side: str | None, start_line: int | None, at: int) -> PullRequestComment:
        return PullRequestComment(
            new_id(), pr.id, CommentKind.REVIEW_COMMENT, host_id, None, f"on {side}", T0, T0,
            path="app.py", line=12, side=side, start_line=start_line,
            source_updated_at=T0 + timedelta(minutes=at),
        )  # fmt: skip

    async with uow_factory() as uow:
        await uow.pull_requests.upsert(pr)
        await uow.pull_requests.upsert_comment(inline(None, "LEFT", None, 0))  # posted: no host id yet
        await uow.pull_requests.upsert_comment(inline(None, "RIGHT", 10, 0))
        await uow.pull_requests.upsert_comment(inline(7, "RIGHT", None, 1))
        await uow.commit()
    async with uow_factory() as uow:
        await uow.pull_requests.upsert_comment(inline(7, "LEFT", 11, 2))  # GitHub's later edit of comment 7
        await uow.commit()
    async with uow_factory() as uow:
        stored = await uow.pull_requests.list_comments(pr.id)
    assert sorted((c.host_comment_id or 0, c.side or "", c.start_line or 0, c.line) for c in stored) == [
        (0, "LEFT", 0, 12),
        (0, "RIGHT", 10, 12),
        (7, "LEFT", 11, 12),
    ]


async def test_a_delivery_is_recorded_once(uow_factory: UowFactory) -> None:
    async with uow_factory() as uow:
        assert await uow.github_deliveries.record("d-1", "push", T0)
        assert not await uow.github_deliveries.record("d-1", "push", T0)
        await uow.commit()


async def test_deliveries_received_before_the_cutoff_are_deleted_in_bounded_batches(
    uow_factory: UowFactory,
) -> None:
    async with uow_factory() as uow:
        for day in range(5):
            assert await uow.github_deliveries.record(f"d-{day}", "push", T0 + timedelta(days=day))
        await uow.commit()
    cutoff = T0 + timedelta(days=3)
    async with uow_factory() as uow:
        first = await uow.github_deliveries.delete_received_before(cutoff, limit=2)
        second = await uow.github_deliveries.delete_received_before(cutoff, limit=2)
        await uow.commit()
    async with uow_factory() as uow:
        kept = [await uow.github_deliveries.record(f"d-{day}", "push", T0) for day in range(5)]
        await uow.commit()
    assert (first, second) == (2, 1)
    assert kept == [True, True, True, False, False]  # days 0-2 were forgotten, days 3-4 are still known


async def test_outbox_events_are_pending_until_processed_once(uow_factory: UowFactory) -> None:
    repo = await seed_repository(uow_factory(), users=[(make_user(), Permission.ADMIN)], secret=None)
    event = RepositoryEvent(new_id(), repo.id, "auto_review_requested", T0, payload={"number": "1"})
    async with uow_factory() as uow:
        await uow.repository_events.add(event)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.repository_events.list_pending(limit=10) == [event]
        assert await uow.repository_events.mark_processed(event.id, T0)
        assert not await uow.repository_events.mark_processed(event.id, T0)
        assert await uow.repository_events.list_pending(limit=10) == []


async def test_processing_an_event_may_record_its_outcome_in_the_payload(uow_factory: UowFactory) -> None:
    repo = await seed_repository(uow_factory(), users=[(make_user(), Permission.ADMIN)], secret=None)
    event = RepositoryEvent(new_id(), repo.id, "comment_command", T0, payload={"number": "1"})
    kept = RepositoryEvent(new_id(), repo.id, "comment_command", T0, payload={"number": "2"})
    outcome = {"number": "1", "outcome": "skipped", "reason": "daily_cap"}
    async with uow_factory() as uow:
        await uow.repository_events.add(event)
        await uow.repository_events.add(kept)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.repository_events.mark_processed(event.id, T0, payload=outcome)
        assert not await uow.repository_events.mark_processed(event.id, T0, payload={"outcome": "again"})
        assert await uow.repository_events.mark_processed(kept.id, T0)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.repository_events.list_pending(limit=10) == []
        stored = await uow.repository_events.get(event.id)
        untouched = await uow.repository_events.get(kept.id)
        assert await uow.repository_events.get(new_id()) is None
    assert stored == replace(event, processed_at=T0, payload=outcome)
    assert untouched == replace(kept, processed_at=T0)


@pytest.mark.postgres
async def test_ten_concurrent_records_of_one_delivery_let_exactly_one_win(
    postgres_engine: AsyncEngine,
) -> None:
    async def attempt() -> bool:
        async with SqlAlchemyUnitOfWork(postgres_engine) as uow:
            won = await uow.github_deliveries.record("same-delivery", "pull_request", T0)
            await uow.commit()
            return won

    results = await asyncio.gather(*(attempt() for _ in range(10)))
    assert sorted(results) == [False] * 9 + [True]
