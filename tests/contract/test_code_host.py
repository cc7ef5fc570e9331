"""The CodeHost contract, run on the in-memory twin and on PyGithub against the local GitHub server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from asynccoder.adapters.github.pygithub_code_host import PyGithubCodeHost
from asynccoder.adapters.memory.code_hosting import InMemoryCodeHost
from asynccoder.application.ports.code_hosting import (
    CodeHost,
    InlineComment,
    WebhookRegistration,
)
from asynccoder.domain.code_hosting import Permission, PullRequestState
from asynccoder.domain.errors import NotFound, Refused
from tests.support.github_api_server import github_api_server

ADMIN, READER = "gho_contract_admin_1", "gho_contract_reader_1"


@pytest.fixture(params=["memory", "pygithub"])
def host(request: pytest.FixtureRequest) -> Iterator[CodeHost]:
    if request.param == "memory":
        memory = InMemoryCodeHost()
        memory.logins = {"admin": ADMIN, "reader": READER}
        memory.add_repository(
            "acme/widgets",
            host_id=11,
            access={ADMIN: Permission.ADMIN, READER: Permission.READ},
            branches={"main": "a" * 40, "topic": "b" * 40},
        )
        yield memory
        return
    with github_api_server() as github:
        github.tokens = {ADMIN: "admin", READER: "reader"}
        github.add_repo("acme/widgets", id=11, access={ADMIN: "admin", READER: "pull"})
        yield PyGithubCodeHost(github.base)


async def test_permissions_are_per_token(host: CodeHost) -> None:
    assert (await host.get_repository(ADMIN, "acme/widgets")).permission is Permission.ADMIN
    assert (await host.get_repository(READER, "acme/widgets")).permission is Permission.READ
    assert (await host.get_repository(ADMIN, "acme/widgets")).host_id == 11


async def test_missing_repositories_and_bad_tokens_are_domain_errors(host: CodeHost) -> None:
    with pytest.raises(NotFound):
        await host.get_repository(ADMIN, "acme/nothing")
    with pytest.raises(Refused) as caught:
        await host.get_repository("gho_unknown", "acme/widgets")
    assert caught.value.code == "code_host_reauthorization_required"


async def test_only_admins_manage_webhooks(host: CodeHost) -> None:
    registration = WebhookRegistration(url="https://coder.example.com/api/v1/webhooks/github", secret="s")
    with pytest.raises(NotFound):
        await host.register_webhook(READER, "acme/widgets", registration)
    hook_id = await host.register_webhook(ADMIN, "acme/widgets", registration)
    assert hook_id is not None
    await host.remove_webhook(ADMIN, "acme/widgets", hook_id)
    with pytest.raises(NotFound):
        await host.remove_webhook(ADMIN, "acme/widgets", hook_id)


async def test_registering_the_same_url_again_takes_the_existing_hook_over(host: CodeHost) -> None:
    url = "https://coder.example.com/api/v1/webhooks/github"
    first = await host.register_webhook(ADMIN, "acme/widgets", WebhookRegistration(url=url, secret="old"))
    again = await host.register_webhook(ADMIN, "acme/widgets", WebhookRegistration(url=url, secret="new"))
    other = await host.register_webhook(
        ADMIN, "acme/widgets", WebhookRegistration(url="https://ci.example.com/hook", secret="x")
    )
    assert again == first
    assert other != first


async def test_a_collaborators_level_is_asked_by_a_writer(host: CodeHost) -> None:
    assert await host.collaborator_permission(ADMIN, "acme/widgets", "reader") is Permission.READ
    assert await host.collaborator_permission(ADMIN, "acme/widgets", "admin") is Permission.ADMIN
    with pytest.raises(Refused):
        await host.collaborator_permission(READER, "acme/widgets", "admin")


async def test_pull_requests_are_numbered_found_by_head_and_reviewed(host: CodeHost) -> None:
    opened = await host.open_pull_request(
        ADMIN, "acme/widgets", head="topic", base="main", title="T", body="B"
    )
    assert opened.number == 1
    assert opened.state is PullRequestState.OPEN
    found = await host.find_open_pull_request(READER, "acme/widgets", "topic")
    assert found is not None
    assert found.number == 1
    assert await host.find_open_pull_request(READER, "acme/widgets", "other") is None
    details = await host.read_pull_request(READER, "acme/widgets", 1)
    assert details.files
    assert details.diff.startswith("diff --git")
    review = await host.post_review(
        READER, "acme/widgets", 1, body="b", event="REQUEST_CHANGES", comments=[InlineComment("a.py", 1, "x")]
    )
    assert review.state == "changes_requested"
    with pytest.raises(NotFound):
        await host.read_pull_request(READER, "acme/widgets", 99)


async def test_readers_cannot_open_pull_requests(host: CodeHost) -> None:
    with pytest.raises(Refused) as caught:
        await host.open_pull_request(READER, "acme/widgets", head="topic", base="main", title="T", body="B")
    assert caught.value.code == "code_host_forbidden"
