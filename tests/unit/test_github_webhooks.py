"""Ingesting GitHub webhook deliveries: signatures, dedupe, each handled event, ordering, disconnects."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from asynccoder.adapters.github.webhooks import sign
from asynccoder.application.ports.code_hosting import WebhookDelivery
from asynccoder.domain.code_hosting import CommentKind, Permission, PullRequestState
from asynccoder.domain.errors import InvalidInput
from tests.support.builders import T0, make_user
from tests.support.code_hosting import SECRET, WebhookWorld
from tests.support.github_payloads import (
    installation_repositories_event,
    issue_comment_event,
    member_event,
    ping_event,
    pull_request_event,
    push_event,
    repository_event,
    review_comment_event,
    review_event,
)


@pytest.fixture
def world() -> WebhookWorld:
    return WebhookWorld()


async def pulls(world: WebhookWorld):  # type: ignore[no-untyped-def]
    return list(world.store.state.code_hosting.pull_requests.values())


# --- signatures -------------------------------------------------------------------------------------------


async def test_a_signed_pull_request_is_recorded(world: WebhookWorld) -> None:
    await world.seed()
    outcome = await world.deliver("pull_request", pull_request_event("opened"))
    assert outcome.status == "processed"
    [pr] = await pulls(world)
    assert pr.number == 1347
    assert pr.state is PullRequestState.OPEN
    assert pr.head_ref == "new-topic"
    assert pr.author_login == "octocat"


async def test_a_one_byte_change_is_rejected_and_nothing_is_written(world: WebhookWorld) -> None:
    await world.seed()
    body = json.dumps(pull_request_event("opened")).encode()
    signature = sign(SECRET, body)
    tampered = body.replace(b"Amazing", b"Amazinh")
    with pytest.raises(InvalidInput) as caught:
        await world.ingest()(WebhookDelivery("pull_request", "d-1", signature, tampered))
    assert caught.value.code == "webhook_signature_invalid"
    assert await pulls(world) == []
    assert world.store.state.code_hosting.deliveries == {}


async def test_a_reserialised_body_is_rejected(world: WebhookWorld) -> None:
    await world.seed()
    payload = pull_request_event("opened")
    signature = sign(SECRET, json.dumps(payload).encode())
    with pytest.raises(InvalidInput):
        await world.ingest()(
            WebhookDelivery("pull_request", "d-1", signature, json.dumps(payload, indent=2).encode())
        )
    assert await pulls(world) == []


async def test_a_wrong_secret_is_rejected(world: WebhookWorld) -> None:
    await world.seed()
    with pytest.raises(InvalidInput) as caught:
        await world.deliver("pull_request", pull_request_event(), secret="not-the-secret")
    assert caught.value.code == "webhook_signature_invalid"
    assert await pulls(world) == []


@pytest.mark.parametrize("signature", ["", "sha1=abc", "deadbeef"])
async def test_a_missing_or_malformed_signature_header_is_rejected(
    world: WebhookWorld, signature: str
) -> None:
    await world.seed()
    body = json.dumps(pull_request_event()).encode()
    with pytest.raises(InvalidInput) as caught:
        await world.ingest()(WebhookDelivery("pull_request", "d-1", signature or None, body))
    assert caught.value.code == "webhook_signature_missing"
    assert await pulls(world) == []


@pytest.mark.parametrize(
    ("event", "delivery"), [(None, "d-1"), ("pull_request", None), ("x" * 65, "d"), ("p", "d" * 101)]
)
async def test_missing_event_or_delivery_headers_are_rejected(
    world: WebhookWorld, event: str | None, delivery: str | None
) -> None:
    await world.seed()
    body = json.dumps(pull_request_event()).encode()
    with pytest.raises(InvalidInput) as caught:
        await world.ingest()(WebhookDelivery(event, delivery, sign(SECRET, body), body))
    assert caught.value.code == "webhook_headers_missing"


async def test_an_unknown_repository_is_ignored_without_writing(world: WebhookWorld) -> None:
    outcome = await world.deliver("pull_request", pull_request_event())
    assert outcome.status == "ignored"
    assert world.store.state.code_hosting.deliveries == {}


async def test_a_malformed_payload_with_a_valid_signature_is_a_400(world: WebhookWorld) -> None:
    await world.seed()
    payload = pull_request_event()
    payload["pull_request"]["number"] = "not a number"
    with pytest.raises(InvalidInput) as caught:
        await world.deliver("pull_request", payload)
    assert caught.value.code == "webhook_payload_invalid"


async def test_ping_answers_pong(world: WebhookWorld) -> None:
    await world.seed()
    assert (await world.deliver("ping", ping_event())).status == "pong"


async def test_unknown_events_and_actions_are_acknowledged_and_ignored(world: WebhookWorld) -> None:
    await world.seed()
    assert (
        await world.deliver("star", {"action": "created", "repository": pull_request_event()["repository"]})
    ).status == "ignored"
    assert (await world.deliver("pull_request", pull_request_event("labeled"))).detail == "ignored"
    assert await pulls(world) == []


# --- dedupe -----------------------------------------------------------------------------------------------


async def test_a_redelivery_has_its_effect_once(world: WebhookWorld) -> None:
    repo = await world.seed()
    world.store.state.code_hosting.repositories[repo.id] = world.store.state.code_hosting.repositories[
        repo.id
    ].with_settings(auto_review=True, default_model_id=None, default_base_branch=None, now=T0)
    first = await world.deliver("pull_request", pull_request_event("opened"), delivery_id="72d3162e")
    second = await world.deliver("pull_request", pull_request_event("opened"), delivery_id="72d3162e")
    assert first.status == "processed"
    assert second.status == "duplicate"
    assert len(world.store.state.code_hosting.events) == 1


async def test_a_failure_after_the_dedupe_record_rolls_both_back(world: WebhookWorld) -> None:
    await world.seed()
    original = world.store.state.code_hosting

    class Boom(Exception):
        pass

    ingest = world.ingest()

    async def explode(*args: object) -> str:
        raise Boom

    ingest._pull_request = explode  # type: ignore[method-assign,assignment]
    body = json.dumps(pull_request_event()).encode()
    with pytest.raises(Boom):
        await ingest(WebhookDelivery("pull_request", "d-9", sign(SECRET, body), body))
    assert world.store.state.code_hosting.deliveries == original.deliveries == {}
    assert (
        await world.deliver("pull_request", pull_request_event(), delivery_id="d-9")
    ).status == "processed"


# --- pull requests and ordering ----------------------------------------------------------------------------


async def test_a_merged_close_records_merged(world: WebhookWorld) -> None:
    await world.seed()
    await world.deliver("pull_request", pull_request_event("opened"))
    await world.deliver(
        "pull_request",
        pull_request_event("closed", state="closed", merged=True, updated_at="2026-11-30T13:00:00Z"),
    )
    [pr] = await pulls(world)
    assert pr.state is PullRequestState.MERGED
    assert pr.merged_at is not None


async def test_a_late_older_delivery_does_not_regress_state(world: WebhookWorld) -> None:
    await world.seed()
    await world.deliver(
        "pull_request", pull_request_event("closed", state="closed", updated_at="2026-11-30T13:00:00Z")
    )
    await world.deliver("pull_request", pull_request_event("synchronize", updated_at="2026-11-30T12:30:00Z"))
    [pr] = await pulls(world)
    assert pr.state is PullRequestState.CLOSED


async def test_synchronize_moves_the_head_and_reopened_reopens(world: WebhookWorld) -> None:
    await world.seed()
    await world.deliver("pull_request", pull_request_event("opened"))
    await world.deliver(
        "pull_request", pull_request_event("synchronize", head_sha="ffff", updated_at="2026-11-30T12:01:00Z")
    )
    await world.deliver(
        "pull_request",
        pull_request_event("closed", state="closed", head_sha="ffff", updated_at="2026-11-30T12:02:00Z"),
    )
    await world.deliver(
        "pull_request", pull_request_event("reopened", head_sha="ffff", updated_at="2026-11-30T12:03:00Z")
    )
    [pr] = await pulls(world)
    assert pr.head_sha == "ffff"
    assert pr.state is PullRequestState.OPEN


async def test_edited_changes_the_title(world: WebhookWorld) -> None:
    await world.seed()
    await world.deliver("pull_request", pull_request_event("opened"))
    await world.deliver(
        "pull_request", pull_request_event("edited", title="Better title", updated_at="2026-11-30T12:09:00Z")
    )
    [pr] = await pulls(world)
    assert pr.title == "Better title"


async def test_auto_review_is_queued_only_when_enabled_and_not_for_drafts(world: WebhookWorld) -> None:
    repo = await world.seed()
    await world.deliver("pull_request", pull_request_event("opened"))
    assert world.store.state.code_hosting.events == {}
    state = world.store.state.code_hosting
    state.repositories[repo.id] = state.repositories[repo.id].with_settings(
        auto_review=True, default_model_id=None, default_base_branch=None, now=T0
    )
    await world.deliver("pull_request", pull_request_event("opened", number=2, draft=True))
    assert world.store.state.code_hosting.events == {}
    await world.deliver("pull_request", pull_request_event("opened", number=3))
    [event] = world.store.state.code_hosting.events.values()
    assert event.kind == "auto_review_requested"
    assert event.payload["number"] == "3"


# --- reviews and comments ----------------------------------------------------------------------------------


async def test_a_review_is_recorded_and_dismissal_is_final(world: WebhookWorld) -> None:
    await world.seed()
    await world.deliver("pull_request_review", review_event("submitted"))
    await world.deliver("pull_request_review", review_event("dismissed"))
    await world.deliver("pull_request_review", review_event("submitted"))  # a late redelivery of the original
    [review] = world.store.state.code_hosting.reviews.values()
    assert review.state == "dismissed"
    assert review.author_login == "hubot"


async def test_review_comments_are_recorded_edited_in_order_and_deleted(world: WebhookWorld) -> None:
    await world.seed()
    await world.deliver("pull_request_review_comment", review_comment_event("created"))
    await world.deliver(
        "pull_request_review_comment",
        review_comment_event("edited", body="Rename to x", updated_at="2026-11-30T12:20:00Z"),
    )
    await world.deliver(
        "pull_request_review_comment",
        review_comment_event("edited", body="stale", updated_at="2026-11-30T12:07:00Z"),
    )
    [comment] = world.store.state.code_hosting.comments.values()
    assert comment.body == "Rename to x"
    assert comment.kind is CommentKind.REVIEW_COMMENT
    assert comment.path == "README.md"
    assert comment.line == 1
    assert comment.author_login == "dependabot[bot]"
    await world.deliver("pull_request_review_comment", review_comment_event("deleted"))
    [comment] = world.store.state.code_hosting.comments.values()
    assert comment.deleted


async def test_an_issue_comment_on_a_pull_request_creates_a_stub_that_the_pull_request_replaces(
    world: WebhookWorld,
) -> None:
    await world.seed()
    await world.deliver("issue_comment", issue_comment_event())
    [stub] = await pulls(world)
    assert stub.head_ref == ""
    [comment] = world.store.state.code_hosting.comments.values()
    assert comment.author_login is None
    assert comment.kind is CommentKind.ISSUE_COMMENT
    await world.deliver("pull_request", pull_request_event("opened", updated_at="2020-01-01T00:00:00Z"))
    [pr] = await pulls(world)
    assert pr.head_ref == "new-topic"


async def test_a_comment_on_a_plain_issue_is_ignored(world: WebhookWorld) -> None:
    await world.seed()
    outcome = await world.deliver("issue_comment", issue_comment_event(on_pull_request=False))
    assert outcome.detail == "ignored"
    assert world.store.state.code_hosting.comments == {}


# --- push ------------------------------------------------------------------------------------------------


async def test_a_push_to_the_default_branch_updates_the_head(world: WebhookWorld) -> None:
    repo = await world.seed()
    await world.deliver("push", push_event())
    stored = world.store.state.code_hosting.repositories[repo.id]
    assert stored.head_sha == "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c"
    assert stored.last_pushed_at is not None


async def test_an_older_push_and_untracked_branches_change_nothing(world: WebhookWorld) -> None:
    repo = await world.seed()
    await world.deliver("push", push_event(after="a" * 40, pushed_at=1764504000))
    await world.deliver("push", push_event(after="b" * 40, pushed_at=1764503000))
    await world.deliver("push", push_event(ref="refs/heads/feature", after="c" * 40, pushed_at=1764509000))
    await world.deliver("push", push_event(ref="refs/tags/v1", after="d" * 40, pushed_at=1764509000))
    assert world.store.state.code_hosting.repositories[repo.id].head_sha == "a" * 40


# --- disconnects -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("action", ["deleted", "transferred"])
async def test_a_deleted_or_transferred_repository_is_disconnected(world: WebhookWorld, action: str) -> None:
    repo = await world.seed()
    await world.deliver("repository", repository_event(action))
    state = world.store.state.code_hosting
    assert not [a for a in state.access.values() if a.repository_id == repo.id]
    assert repo.id not in state.webhooks


async def test_removing_a_member_removes_only_that_users_access(world: WebhookWorld) -> None:
    ada, bob = make_user(), make_user()
    repo = await world.seed(
        [(ada, Permission.ADMIN), (bob, Permission.WRITE)], logins={ada.id: "ada", bob.id: "octocat"}
    )
    await world.deliver("member", member_event("removed", login="octocat"))
    access = {a.user_id for a in world.store.state.code_hosting.access.values() if a.repository_id == repo.id}
    assert access == {ada.id}


async def test_installation_repositories_removed_needs_the_app_secret(world: WebhookWorld) -> None:
    repo = await world.seed()
    ignored = await world.deliver(
        "installation_repositories", installation_repositories_event(), secret="app-secret"
    )
    assert ignored.status == "ignored"
    world.app_secret = "app-secret"
    outcome = await world.deliver(
        "installation_repositories", installation_repositories_event(), secret="app-secret"
    )
    assert outcome.status == "processed"
    assert not [a for a in world.store.state.code_hosting.access.values() if a.repository_id == repo.id]


async def test_time_moves_only_through_the_clock(world: WebhookWorld) -> None:
    await world.seed()
    world.clock.advance(timedelta(hours=1))
    await world.deliver("pull_request", pull_request_event("opened"))
    [pr] = await pulls(world)
    assert pr.created_at == T0 + timedelta(hours=1)


async def test_a_renamed_repository_follows_its_new_name_unless_it_is_taken(world: WebhookWorld) -> None:
    from tests.support.code_hosting import make_repository

    repo = await world.seed()
    renamed = repository_event("renamed")
    renamed["repository"]["full_name"] = "octo-org/hello-universe"
    await world.deliver("repository", renamed)
    assert world.store.state.code_hosting.repositories[repo.id].full_name == "octo-org/hello-universe"

    other = make_repository(host_id=5, full_name="octo-org/taken")
    async with world.uow() as uow:
        await uow.repositories.add(other)
        await uow.commit()
    clash = repository_event("renamed")
    clash["repository"]["full_name"] = "octo-org/taken"
    assert (await world.deliver("repository", clash)).detail == "ignored"
    assert world.store.state.code_hosting.repositories[repo.id].full_name == "octo-org/hello-universe"


@pytest.mark.parametrize(
    "signature", ["sha256=é" + "0" * 63, "sha256=\udcff", "sha256=\U0001f600", "sha256="]
)
async def test_a_signature_with_odd_characters_is_a_400_not_a_crash(
    world: WebhookWorld, signature: str
) -> None:
    await world.seed()
    with pytest.raises(InvalidInput) as caught:
        await world.deliver("pull_request", pull_request_event(), signature=signature)
    assert caught.value.code == "webhook_signature_invalid"


async def test_a_changed_collaborator_permission_is_mirrored(world: WebhookWorld) -> None:
    ada = make_user()
    repo = await world.seed([(ada, Permission.ADMIN)], logins={ada.id: "octocat"})
    edited = member_event("edited", login="octocat")
    edited["changes"] = {"permission": {"from": "admin", "to": "triage"}}
    await world.deliver("member", edited)
    [access] = [a for a in world.store.state.code_hosting.access.values() if a.repository_id == repo.id]
    assert access.permission is Permission.READ
    unknown = member_event("edited", login="octocat")
    unknown["changes"] = {"permission": {"from": "read", "to": "custom-role"}}
    assert (await world.deliver("member", unknown)).detail == "ignored"
