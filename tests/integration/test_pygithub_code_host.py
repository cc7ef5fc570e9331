"""PyGithubCodeHost through the real PyGithub library against a local server speaking GitHub's REST API."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from asynccoder.adapters.github.pygithub_code_host import PyGithubCodeHost
from asynccoder.application.ports.code_hosting import (
    InlineComment,
    WebhookRegistration,
)
from asynccoder.domain.code_hosting import Permission, PullRequestState, Visibility
from asynccoder.domain.errors import NotFound, Refused, TooManyRequests
from tests.support.github_api_server import DIFF, FakeGitHub, github_api_server

ADA = "gho_ada_token_0123456789"
BOB = "gho_bob_token_9876543210"


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    with github_api_server() as state:
        state.tokens = {ADA: "ada", BOB: "bob"}
        state.add_repo("acme/widgets", id=1296269, access={ADA: "admin", BOB: "pull"})
        state.add_repo("acme/gears", id=1296270, access={ADA: "push"}, private=False, visibility="public")
        yield state


@pytest.fixture
def host(github: FakeGitHub) -> PyGithubCodeHost:
    return PyGithubCodeHost(github.base)


async def test_a_repository_comes_with_the_callers_permission(host: PyGithubCodeHost) -> None:
    as_ada = await host.get_repository(ADA, "acme/widgets")
    as_bob = await host.get_repository(BOB, "acme/widgets")

    assert as_ada.host_id == 1296269
    assert as_ada.permission is Permission.ADMIN
    assert as_bob.permission is Permission.READ
    assert as_ada.default_branch == "main"
    assert as_ada.visibility is Visibility.PRIVATE
    assert as_ada.clone_url == "https://github.com/acme/widgets.git"


async def test_every_request_carries_the_users_token(host: PyGithubCodeHost, github: FakeGitHub) -> None:
    await host.get_repository(ADA, "acme/gears")
    assert github.requests
    assert all(headers.get("Authorization") == f"token {ADA}" for _, _, headers in github.requests)


async def test_listing_is_paginated(host: PyGithubCodeHost) -> None:
    first = await host.list_repositories(ADA, page=1, per_page=1)
    second = await host.list_repositories(ADA, page=2, per_page=1)

    assert [r.full_name for r in first.items] == ["acme/widgets"]
    assert first.next_page == 2
    assert [r.full_name for r in second.items] == ["acme/gears"]
    assert second.items[0].permission is Permission.WRITE


async def test_an_invisible_repository_is_not_found(host: PyGithubCodeHost) -> None:
    with pytest.raises(NotFound) as caught:
        await host.get_repository(BOB, "acme/gears")
    assert caught.value.code == "code_host_not_found"


async def test_bad_credentials_ask_for_reauthorization(host: PyGithubCodeHost) -> None:
    with pytest.raises(Refused) as caught:
        await host.get_repository("gho_revoked", "acme/widgets")
    assert caught.value.code == "code_host_reauthorization_required"
    assert "gho_revoked" not in str(caught.value)


async def test_a_primary_rate_limit_reports_the_time_until_reset(
    host: PyGithubCodeHost, github: FakeGitHub
) -> None:
    github.rate_limited = "403"
    with pytest.raises(TooManyRequests) as caught:
        await host.get_repository(ADA, "acme/widgets")
    assert caught.value.code == "code_host_rate_limited"
    assert 60 <= caught.value.retry_after <= 121


async def test_a_secondary_rate_limit_reports_retry_after(host: PyGithubCodeHost, github: FakeGitHub) -> None:
    github.rate_limited = "429"
    with pytest.raises(TooManyRequests) as caught:
        await host.list_repositories(ADA, page=1, per_page=10)
    assert caught.value.retry_after == 42


async def test_a_webhook_is_registered_as_json_with_its_secret_and_removed(
    host: PyGithubCodeHost, github: FakeGitHub
) -> None:
    hook_id = await host.register_webhook(
        ADA,
        "acme/widgets",
        WebhookRegistration(url="https://coder.example.com/api/v1/webhooks/github", secret="s3"),
    )
    assert hook_id is not None
    stored = github.hooks[hook_id]
    assert stored["secret"] == "s3"
    assert stored["config"]["content_type"] == "json"
    assert "pull_request" in stored["events"]

    await host.remove_webhook(ADA, "acme/widgets", hook_id)
    assert hook_id not in github.hooks


async def test_a_hook_that_already_exists_is_found_across_pages_and_taken_over(
    host: PyGithubCodeHost, github: FakeGitHub
) -> None:
    url = "https://coder.example.com/api/v1/webhooks/github"
    for n in range(130):  # more than one page of 100
        github.add_hook("acme/widgets", f"https://ci-{n}.example.com/hook")
    forgotten = github.add_hook("acme/widgets", url, secret="the-lost-secret", active=False)

    hook_id = await host.register_webhook(ADA, "acme/widgets", WebhookRegistration(url=url, secret="fresh"))

    assert hook_id == forgotten
    stored = github.hooks[forgotten]
    assert stored["secret"] == "fresh"
    assert stored["active"] is True
    assert "pull_request" in stored["events"]
    assert len([h for h in github.hooks.values() if h["config"]["url"] == url]) == 1
    listed = [path for method, path, _ in github.requests if method == "GET" and path.endswith("/hooks")]
    assert len(listed) == 2  # followed the Link header to the second page


async def test_another_validation_failure_is_still_refused(
    host: PyGithubCodeHost, github: FakeGitHub
) -> None:
    github.fail_hooks = True
    with pytest.raises(Refused) as caught:
        await host.register_webhook(
            ADA, "acme/widgets", WebhookRegistration(url="https://x.example/h", secret="s")
        )
    assert caught.value.code == "code_host_rejected"


async def test_a_reader_cannot_register_a_webhook(host: PyGithubCodeHost) -> None:
    with pytest.raises(NotFound):
        await host.register_webhook(
            BOB, "acme/widgets", WebhookRegistration(url="https://x.example/h", secret="s")
        )


async def test_opening_finding_and_reading_a_pull_request(host: PyGithubCodeHost) -> None:
    opened = await host.open_pull_request(
        ADA, "acme/widgets", head="asynccoder/task-1", base="main", title="Add main()", body="Body"
    )
    found = await host.find_open_pull_request(ADA, "acme/widgets", "asynccoder/task-1")
    missing = await host.find_open_pull_request(ADA, "acme/widgets", "other")
    details = await host.read_pull_request(ADA, "acme/widgets", opened.number)

    assert opened.number == 1
    assert opened.state is PullRequestState.OPEN
    assert found is not None
    assert found.number == 1
    assert missing is None
    assert details.pull_request.head_ref == "asynccoder/task-1"
    assert details.files[0].filename == "src/app.py"
    assert details.files[0].additions == 3
    assert details.diff.startswith("diff --git a/src/app.py b/src/app.py")


async def test_a_review_with_inline_comments_and_an_issue_comment_are_posted(
    host: PyGithubCodeHost, github: FakeGitHub
) -> None:
    opened = await host.open_pull_request(ADA, "acme/widgets", head="f", base="main", title="T", body="B")
    review = await host.post_review(
        ADA,
        "acme/widgets",
        opened.number,
        body="Looks good",
        event="COMMENT",
        comments=[InlineComment(path="src/app.py", line=2, body="Nit: name")],
    )
    comment = await host.post_issue_comment(ADA, "acme/widgets", opened.number, "Thanks!")

    assert review.state == "commented"
    assert review.host_review_id is not None
    assert github.reviews[0]["comments"] == [
        {"path": "src/app.py", "line": 2, "side": "RIGHT", "body": "Nit: name"}
    ]
    assert comment.host_comment_id == github.comments[0]["id"]


async def test_a_multi_line_comment_and_one_on_a_removed_line_are_sent_with_their_sides(
    host: PyGithubCodeHost, github: FakeGitHub
) -> None:
    opened = await host.open_pull_request(ADA, "acme/widgets", head="f", base="main", title="T", body="B")
    github.pulls[("acme/widgets", opened.number)]["diff"] = DIFF

    await host.post_review(
        ADA,
        "acme/widgets",
        opened.number,
        body="Two",
        event="COMMENT",
        comments=[
            InlineComment("src/app.py", 3, "range", start_line=2),
            InlineComment("src/app.py", 2, "removed", side="LEFT"),
        ],
    )

    assert github.reviews[0]["comments"] == [
        {
            "path": "src/app.py",
            "line": 3,
            "side": "RIGHT",
            "body": "range",
            "start_line": 2,
            "start_side": "RIGHT",
        },
        {"path": "src/app.py", "line": 2, "side": "LEFT", "body": "removed"},
    ]


async def test_githubs_422_for_a_comment_outside_the_diff_is_a_refused_review_comment(
    host: PyGithubCodeHost, github: FakeGitHub
) -> None:
    opened = await host.open_pull_request(ADA, "acme/widgets", head="f", base="main", title="T", body="B")
    github.pulls[("acme/widgets", opened.number)]["diff"] = DIFF

    with pytest.raises(Refused) as caught:
        await host.post_review(
            ADA,
            "acme/widgets",
            opened.number,
            body="x",
            event="COMMENT",
            comments=[InlineComment("src/app.py", 40, "far away")],
        )

    assert caught.value.code == "review_comment_rejected"
    assert github.reviews == []


async def test_a_reader_cannot_open_a_pull_request(host: PyGithubCodeHost) -> None:
    with pytest.raises(Refused) as caught:
        await host.open_pull_request(BOB, "acme/widgets", head="f", base="main", title="T", body="B")
    assert caught.value.code == "code_host_forbidden"
