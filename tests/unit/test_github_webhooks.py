"""Ingesting GitHub webhook deliveries: signatures, dedupe, each handled event, ordering, disconnects."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

import pytest

from asynccoder.adapters.github.webhooks import sign
from asynccoder.adapters.memory.code_hosting import StoredHook
from asynccoder.application.code_hosting.webhooks import DeliveryRetention, PruneGitHubDeliveries
from asynccoder.application.ports.code_hosting import HostedPullRequest, WebhookDelivery, WebhookRegistration
from asynccoder.domain.code_hosting import CommentKind, Permission, PullRequestState, Visibility
from asynccoder.domain.errors import InvalidInput, Unavailable
from tests.support.builders import T0, make_user
from tests.support.code_hosting import SECRET, WebhookWorld
from tests.support.github_payloads import (
    FULL_NAME,
    REPO_ID,
    installation_repositories_event,
    issue_comment_event,
    member_event,
    ping_event,
    pull_request_event,
    push_event,
    repository_event,
    review_comment_event,
    review_event,
    user,
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


async def test_a_redelivery_is_recognised_before_its_signature_is_checked_and_writes_nothing(
    world: WebhookWorld,
) -> None:
    await world.seed()
    first = await world.deliver("pull_request", pull_request_event("opened"), delivery_id="5e1a")
    deliveries = dict(world.store.state.code_hosting.deliveries)
    pull_requests = dict(world.store.state.code_hosting.pull_requests)
    # No secret is decrypted and no HMAC computed for a known id: even a wrong signature gets "duplicate".
    again = await world.deliver(
        "pull_request", pull_request_event("closed"), delivery_id="5e1a", signature="sha256=" + "0" * 64
    )
    assert (first.status, again.status) == ("processed", "duplicate")
    assert world.store.state.code_hosting.deliveries == deliveries
    assert world.store.state.code_hosting.pull_requests == pull_requests


async def test_a_failure_after_the_dedupe_record_rolls_both_back(world: WebhookWorld) -> None:
    await world.seed()
    assert world.store.state.code_hosting.deliveries == {}

    class Boom(Exception):
        pass

    ingest = world.ingest()

    async def explode(*args: object) -> str:
        raise Boom

    ingest._pull_request = explode  # type: ignore[method-assign,assignment]
    body = json.dumps(pull_request_event()).encode()
    with pytest.raises(Boom):
        await ingest(WebhookDelivery("pull_request", "d-9", sign(SECRET, body), body))
    assert world.store.state.code_hosting.deliveries == {}
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


async def test_a_comment_on_an_unseen_pull_request_reads_the_pull_request_from_the_api(
    world: WebhookWorld,
) -> None:
    await world.seed()
    world.host.pulls[(FULL_NAME, 1347)] = HostedPullRequest(
        number=1347,
        title="Amazing new feature",
        body=None,
        state=PullRequestState.CLOSED,
        author_login="octocat",
        head_ref="new-topic",
        head_sha="6dcb09b5b57875f334f61aebed695e2e4193db5e",
        base_ref="main",
        html_url=f"https://github.com/{FULL_NAME}/pull/1347",
        draft=False,
        created_at=datetime(2026, 11, 30, 10, 0, tzinfo=UTC),
        updated_at=datetime(2026, 11, 30, 12, 9, tzinfo=UTC),
        closed_at=datetime(2026, 11, 30, 12, 9, tzinfo=UTC),
    )

    await world.deliver("issue_comment", issue_comment_event())

    [pr] = await pulls(world)
    assert (pr.head_ref, pr.base_ref, pr.state) == ("new-topic", "main", PullRequestState.CLOSED)
    assert pr.created_at == datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
    [comment] = world.store.state.code_hosting.comments.values()
    assert comment.kind is CommentKind.ISSUE_COMMENT
    assert comment.pull_request_id == pr.id
    assert comment.created_at == comment.updated_at == datetime(2026, 11, 30, 12, 10, tzinfo=UTC)


async def test_a_comment_on_a_pull_request_github_does_not_have_stores_no_stub(world: WebhookWorld) -> None:
    await world.seed()
    outcome = await world.deliver("issue_comment", issue_comment_event())
    assert outcome.status == "processed"
    assert await pulls(world) == []
    assert world.store.state.code_hosting.comments == {}


async def test_pull_request_and_comment_times_are_githubs(world: WebhookWorld) -> None:
    await world.seed()
    world.clock.advance(timedelta(days=3))
    await world.deliver("pull_request", pull_request_event("opened", updated_at="2026-11-30T12:00:00Z"))
    await world.deliver(
        "pull_request_review_comment", review_comment_event(updated_at="2026-11-30T12:07:00Z")
    )
    [pr] = await pulls(world)
    [comment] = world.store.state.code_hosting.comments.values()
    assert pr.created_at == datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
    assert pr.updated_at == datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    assert comment.created_at == datetime(2026, 11, 30, 12, 6, tzinfo=UTC)
    assert comment.updated_at == datetime(2026, 11, 30, 12, 7, tzinfo=UTC)


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


def access_of(world: WebhookWorld, repository_id: object) -> dict[object, Permission]:
    return {
        a.user_id: a.permission
        for a in world.store.state.code_hosting.access.values()
        if a.repository_id == repository_id
    }


@pytest.mark.parametrize("action", ["deleted", "transferred"])
async def test_a_deleted_or_transferred_repository_is_disconnected_once_github_confirms(
    world: WebhookWorld, action: str
) -> None:
    repo = await world.seed()
    del world.host.repositories[FULL_NAME.lower()]  # gone from GitHub (404 for the stored tokens)
    await world.deliver("repository", repository_event(action))
    state = world.store.state.code_hosting
    assert access_of(world, repo.id) == {}
    assert repo.id not in state.webhooks


async def test_a_signed_label_deleted_body_resent_as_a_repository_event_is_refused(
    world: WebhookWorld,
) -> None:
    ada = make_user()
    repo = await world.seed([(ada, Permission.ADMIN)])
    label_deleted = {
        "action": "deleted",
        "label": {
            "id": 208045946,
            "node_id": "MDU6TGFiZWwyMDgwNDU5NDY=",
            "url": f"https://api.github.com/repos/{FULL_NAME}/labels/bug",
            "name": "bug",
            "color": "f29513",
            "default": True,
            "description": "Something isn't working",
        },
        "repository": repository_event()["repository"],
        "sender": user(),
    }
    with pytest.raises(InvalidInput) as caught:
        await world.deliver("repository", label_deleted)
    assert caught.value.code == "webhook_payload_invalid"
    assert access_of(world, repo.id) == {ada.id: Permission.ADMIN}
    assert world.store.state.code_hosting.deliveries == {}
    assert (await world.deliver("label", label_deleted)).status == "ignored"  # as announced: fine


async def test_a_repository_deleted_delivery_github_does_not_confirm_changes_nothing(
    world: WebhookWorld,
) -> None:
    ada = make_user()
    repo = await world.seed([(ada, Permission.ADMIN)])
    outcome = await world.deliver("repository", repository_event("deleted"))  # the repository is still there
    assert "not confirmed" in outcome.detail
    assert access_of(world, repo.id) == {ada.id: Permission.ADMIN}
    assert repo.id in world.store.state.code_hosting.webhooks


async def test_a_github_outage_while_confirming_a_deletion_writes_nothing(world: WebhookWorld) -> None:
    repo = await world.seed()
    world.host.down = True
    with pytest.raises(Unavailable):
        await world.deliver("repository", repository_event("deleted"), delivery_id="d-outage")
    assert world.store.state.code_hosting.deliveries == {}
    assert access_of(world, repo.id)


async def test_a_rate_limit_while_confirming_is_unavailable_and_writes_nothing(world: WebhookWorld) -> None:
    repo = await world.seed()
    world.host.rate_limited_for = 30
    with pytest.raises(Unavailable) as caught:
        await world.deliver("repository", repository_event("deleted"))
    assert caught.value.code == "code_host_rate_limited"
    assert world.store.state.code_hosting.deliveries == {}
    assert access_of(world, repo.id)


async def test_a_transferred_repository_has_its_hook_deleted_at_its_new_home(world: WebhookWorld) -> None:
    ada = make_user()
    repo = await world.seed([(ada, Permission.ADMIN)])
    world.host.hooks[42] = StoredHook(
        42, FULL_NAME, WebhookRegistration(url="https://x.example/h", secret="s")
    )
    world.host.transfer(FULL_NAME, "new-owner/hello-world")  # ada is still an admin there

    await world.deliver("repository", repository_event("transferred"))

    assert access_of(world, repo.id) == {}
    assert 42 not in world.host.hooks


async def test_a_hook_github_refuses_to_delete_is_logged_without_secrets(
    world: WebhookWorld, caplog: pytest.LogCaptureFixture
) -> None:
    repo = await world.seed(logins=None)
    del world.host.repositories[FULL_NAME.lower()]
    with caplog.at_level(logging.WARNING, logger="asynccoder.code_hosting.repositories"):
        await world.deliver("repository", repository_event("deleted"))
    assert repo.id not in world.store.state.code_hosting.webhooks
    [record] = [r for r in caplog.records if "could not be deleted" in r.getMessage()]
    assert "42" in record.getMessage()
    assert SECRET not in caplog.text
    assert "gho_" not in caplog.text


async def test_removing_a_member_matches_the_github_user_id_not_the_login(world: WebhookWorld) -> None:
    ada, bob = make_user(), make_user()
    repo = await world.seed(
        [(ada, Permission.ADMIN), (bob, Permission.WRITE)], logins={ada.id: "octocat", bob.id: "bob-renamed"}
    )
    bob_id = world.store.state.github_connections[bob.id].github_user_id
    del world.host.repositories[FULL_NAME.lower()].access["gho_bob-renamed"]  # GitHub: bob lost access

    # GitHub names bob by his new login; ada's login "octocat" is a coincidence that must not matter.
    await world.deliver("member", member_event("removed", login="octocat", id=bob_id))

    assert access_of(world, repo.id) == {ada.id: Permission.ADMIN}


async def test_a_member_removed_delivery_github_does_not_confirm_keeps_the_access(
    world: WebhookWorld,
) -> None:
    ada, bob = make_user(), make_user()
    repo = await world.seed([(ada, Permission.ADMIN), (bob, Permission.WRITE)], logins={bob.id: "bob"})
    bob_id = world.store.state.github_connections[bob.id].github_user_id
    await world.deliver("member", member_event("removed", login="bob", id=bob_id))  # bob still has access
    assert access_of(world, repo.id) == {ada.id: Permission.ADMIN, bob.id: Permission.WRITE}


async def test_a_member_whose_token_is_revoked_is_confirmed_through_the_collaborator_permission(
    world: WebhookWorld,
) -> None:
    ada, bob = make_user(), make_user()
    repo = await world.seed([(ada, Permission.ADMIN), (bob, Permission.WRITE)], logins={bob.id: "bob"})
    bob_id = world.store.state.github_connections[bob.id].github_user_id
    world.host.tokens.discard("gho_bob")  # bob revoked the OAuth app: his token answers 401
    del world.host.repositories[FULL_NAME.lower()].access["gho_bob"]

    await world.deliver("member", member_event("removed", login="bob", id=bob_id))

    assert access_of(world, repo.id) == {ada.id: Permission.ADMIN}


async def test_removing_the_last_member_forgets_the_webhook(world: WebhookWorld) -> None:
    bob = make_user()
    repo = await world.seed([(bob, Permission.ADMIN)], logins={bob.id: "bob"})
    bob_id = world.store.state.github_connections[bob.id].github_user_id
    world.host.repositories[FULL_NAME.lower()].access.clear()
    await world.deliver("member", member_event("removed", login="bob", id=bob_id))
    assert access_of(world, repo.id) == {}
    assert repo.id not in world.store.state.code_hosting.webhooks


async def test_installation_repositories_removed_needs_the_app_secret(world: WebhookWorld) -> None:
    repo = await world.seed()
    del world.host.repositories[FULL_NAME.lower()]
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
    await world.deliver("pull_request", pull_request_event("opened"), delivery_id="d-clock")
    assert world.store.state.code_hosting.deliveries["d-clock"][1] == T0 + timedelta(hours=1)


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


async def test_a_member_edited_delivery_mirrors_the_level_github_reports(world: WebhookWorld) -> None:
    ada, bob = make_user(), make_user()
    repo = await world.seed([(ada, Permission.ADMIN), (bob, Permission.ADMIN)], logins={bob.id: "bob"})
    bob_id = world.store.state.github_connections[bob.id].github_user_id
    world.host.repositories[FULL_NAME.lower()].access["gho_bob"] = Permission.READ  # demoted to triage

    # The real payload names only the old level: {"changes": {"old_permission": {"from": "admin"}}}.
    await world.deliver("member", member_event("edited", login="bob", id=bob_id, old_permission="admin"))

    assert access_of(world, repo.id) == {ada.id: Permission.ADMIN, bob.id: Permission.READ}


async def test_a_member_delivery_for_someone_without_a_connection_is_ignored(world: WebhookWorld) -> None:
    ada = make_user()
    repo = await world.seed([(ada, Permission.ADMIN)])
    assert (await world.deliver("member", member_event("edited", id=1))).detail == "ignored"
    assert access_of(world, repo.id) == {ada.id: Permission.ADMIN}


async def test_a_changed_default_branch_is_mirrored_and_pushes_to_it_count(world: WebhookWorld) -> None:
    repo = await world.seed()
    edited = repository_event("edited")
    edited["repository"]["default_branch"] = "trunk"
    edited["changes"] = {"default_branch": {"from": "main"}}
    await world.deliver("repository", edited)
    await world.deliver("push", push_event(ref="refs/heads/trunk", after="e" * 40))
    stored = world.store.state.code_hosting.repositories[repo.id]
    assert stored.default_branch == "trunk"
    assert stored.head_sha == "e" * 40


async def test_publicized_and_privatized_change_the_visibility(world: WebhookWorld) -> None:
    repo = await world.seed()
    publicized = repository_event("publicized")
    publicized["repository"].update(private=False, visibility="public")
    await world.deliver("repository", publicized)
    assert world.store.state.code_hosting.repositories[repo.id].visibility is Visibility.PUBLIC
    await world.deliver("repository", repository_event("privatized"))
    assert world.store.state.code_hosting.repositories[repo.id].visibility is Visibility.PRIVATE


async def test_a_delivery_for_another_repository_with_the_same_name_is_ignored(world: WebhookWorld) -> None:
    await world.seed()
    payload = pull_request_event("opened")
    payload["repository"]["id"] = REPO_ID + 1  # the name was deleted and re-created: another repository
    outcome = await world.deliver("pull_request", payload)
    assert outcome.status == "ignored"
    assert await pulls(world) == []
    assert world.store.state.code_hosting.deliveries == {}


async def test_with_the_app_secret_an_unknown_repository_is_ignored_and_nothing_is_stored(
    world: WebhookWorld,
) -> None:
    world.app_secret = "app-secret"
    payload = pull_request_event("opened")
    payload["repository"] = {"id": 999, "full_name": "someone/else"}
    outcome = await world.deliver("pull_request", payload, secret="app-secret")
    assert outcome.status == "ignored"
    assert world.store.state.code_hosting.deliveries == {}


async def test_old_delivery_rows_are_pruned_after_the_retention_period(world: WebhookWorld) -> None:
    await world.seed()
    await world.deliver("push", push_event(), delivery_id="old")
    world.clock.advance(timedelta(days=20))
    await world.deliver("push", push_event(after="f" * 40), delivery_id="recent")
    world.clock.advance(timedelta(days=15))

    result = await PruneGitHubDeliveries(world.uow(), world.clock, DeliveryRetention(timedelta(days=30)))()

    assert result.deleted == 1
    assert set(world.store.state.code_hosting.deliveries) == {"recent"}
    with pytest.raises(InvalidInput):
        await PruneGitHubDeliveries(world.uow(), world.clock, DeliveryRetention(timedelta(days=2)))()
