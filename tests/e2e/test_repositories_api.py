"""Repositories over HTTP against a local server speaking GitHub's REST API (through PyGithub)."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from litestar.testing import AsyncTestClient

from asynccoder.adapters.sqlalchemy.database import create_engine
from asynccoder.ioc.settings import Settings
from tests.e2e.conftest import ClientFactory
from tests.support.builders import make_user
from tests.support.code_hosting import access_token, add_user_with_github, in_database, signed
from tests.support.github_api_server import FakeGitHub, github_api_server
from tests.support.github_payloads import (
    issue_comment_event,
    member_event,
    pull_request_event,
    repository,
    repository_event,
)

ADA_TOKEN = "gho_ada_e2e_0123456789"
BOB_TOKEN = "gho_bob_e2e_0123456789"
CAROL_TOKEN = "gho_carol_e2e_012345678"


@dataclasses.dataclass
class World:
    client: AsyncTestClient[Any]
    github: FakeGitHub
    settings: Settings
    headers: dict[str, dict[str, str]]


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    with github_api_server() as state:
        state.tokens = {ADA_TOKEN: "ada", BOB_TOKEN: "bob", CAROL_TOKEN: "carol"}
        state.add_repo("acme/widgets", id=501, access={ADA_TOKEN: "admin", BOB_TOKEN: "pull"})
        state.add_repo("acme/secret", id=502, access={CAROL_TOKEN: "admin"})
        yield state


@pytest.fixture
async def world(
    client_factory: ClientFactory, backend_settings: Settings, github: FakeGitHub
) -> AsyncIterator[World]:
    settings = dataclasses.replace(
        backend_settings,
        code_host="github",
        github_api_url=github.base,
        public_base_url="https://coder.example.com",
    )
    headers: dict[str, dict[str, str]] = {}
    for name, token in (("ada", ADA_TOKEN), ("bob", BOB_TOKEN), ("carol", CAROL_TOKEN), ("dave", None)):
        user = make_user()

        async def add(uow: Any, user: Any = user, token: str | None = token, name: str = name) -> None:
            if token is None:
                async with uow:
                    await uow.users.add(user)
                    await uow.commit()
            else:
                await add_user_with_github(uow, user, token, name)

        await in_database(settings, add)
        headers[name] = {"Authorization": f"Bearer {access_token(settings, user)}"}
    async with client_factory(settings) as client:
        yield World(client, github, settings, headers)


async def connect(world: World, who: str, full_name: str = "acme/widgets") -> Any:
    return await world.client.post(
        "/api/v1/repositories", json={"full_name": full_name}, headers=world.headers[who]
    )


async def test_connecting_verifies_access_registers_a_webhook_and_answers_201(world: World) -> None:
    response = await connect(world, "ada")

    assert response.status_code == 201
    body = response.json()
    assert response.headers["location"] == f"/api/v1/repositories/{body['id']}"
    assert body["full_name"] == "acme/widgets"
    assert body["permission"] == "admin"
    assert body["visibility"] == "private"
    assert body["default_branch"] == "main"
    assert body["webhook_active"] is True
    [hook] = world.github.hooks.values()
    assert hook["config"]["url"] == "https://coder.example.com/api/v1/webhooks/github"
    assert hook["config"]["content_type"] == "json"


async def test_the_webhook_secret_is_stored_sealed(world: World) -> None:
    await connect(world, "ada")
    [hook] = world.github.hooks.values()
    engine = create_engine(world.settings.database_url)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(sa.text("SELECT * FROM repository_webhooks"))).all()
    finally:
        await engine.dispose()
    assert len(rows) == 1
    assert hook["secret"] not in str(rows[0])


async def test_a_second_user_joins_the_same_repository_with_their_own_level(world: World) -> None:
    first = (await connect(world, "ada")).json()
    second = await connect(world, "bob")

    assert second.status_code == 201
    assert second.json()["id"] == first["id"]
    assert second.json()["permission"] == "read"
    assert len(world.github.hooks) == 1


async def test_a_repository_the_caller_cannot_see_on_github_is_404(world: World) -> None:
    response = await connect(world, "ada", "acme/secret")
    assert response.status_code == 404
    assert response.json()["code"] == "code_host_not_found"


async def test_connecting_without_a_github_connection_is_refused(world: World) -> None:
    response = await connect(world, "dave")
    assert response.status_code == 422
    assert response.json()["code"] == "github_not_connected"


@pytest.mark.parametrize("body", [{"full_name": "not a repo"}, {"full_name": "a/b", "role": "admin"}, {}])
async def test_invalid_bodies_are_400(world: World, body: dict[str, Any]) -> None:
    response = await world.client.post("/api/v1/repositories", json=body, headers=world.headers["ada"])
    assert response.status_code == 400


async def test_a_rate_limited_github_answers_429_with_retry_after(world: World) -> None:
    world.github.rate_limited = "403"
    response = await connect(world, "ada")
    assert response.status_code == 429
    assert int(response.headers["retry-after"]) >= 1
    assert response.json()["code"] == "code_host_rate_limited"


async def test_listing_shows_only_the_callers_repositories(world: World) -> None:
    await connect(world, "ada")
    await connect(world, "carol", "acme/secret")

    ada = (await world.client.get("/api/v1/repositories", headers=world.headers["ada"])).json()
    bob = (await world.client.get("/api/v1/repositories", headers=world.headers["bob"])).json()

    assert [r["full_name"] for r in ada["items"]] == ["acme/widgets"]
    assert ada["items"][0]["webhook_active"] is True
    assert ada["next_cursor"] is None
    assert bob["items"] == []


async def test_connectable_repositories_come_from_github_page_by_page(world: World) -> None:
    world.github.add_repo("acme/extra", id=503, access={ADA_TOKEN: "push"})
    first = await world.client.get(
        "/api/v1/repositories", params={"source": "github", "limit": 1}, headers=world.headers["ada"]
    )
    assert first.status_code == 200
    assert [r["full_name"] for r in first.json()["items"]] == ["acme/widgets"]
    second = await world.client.get(
        "/api/v1/repositories",
        params={"source": "github", "limit": 1, "cursor": first.json()["next_cursor"]},
        headers=world.headers["ada"],
    )
    assert [(r["full_name"], r["permission"]) for r in second.json()["items"]] == [("acme/extra", "write")]


async def test_a_user_without_access_gets_404_for_the_repository_and_its_pull_requests(world: World) -> None:
    repo_id = (await connect(world, "carol", "acme/secret")).json()["id"]
    as_ada = world.headers["ada"]
    settings_body = {"auto_review": True, "default_model_id": None, "default_base_branch": None}

    assert (await world.client.get(f"/api/v1/repositories/{repo_id}", headers=as_ada)).status_code == 404
    assert (
        await world.client.get(f"/api/v1/repositories/{repo_id}/pulls", headers=as_ada)
    ).status_code == 404
    put = await world.client.put(
        f"/api/v1/repositories/{repo_id}/settings", json=settings_body, headers=as_ada
    )
    assert put.status_code == 404
    assert (await world.client.delete(f"/api/v1/repositories/{repo_id}", headers=as_ada)).status_code == 404
    still = await world.client.get(f"/api/v1/repositories/{repo_id}", headers=world.headers["carol"])
    assert still.json()["settings"]["auto_review"] is False


async def test_settings_need_write_access(world: World) -> None:
    repo_id = (await connect(world, "ada")).json()["id"]
    await connect(world, "bob")
    body = {"auto_review": True, "default_model_id": None, "default_base_branch": "develop"}

    refused = await world.client.put(
        f"/api/v1/repositories/{repo_id}/settings", json=body, headers=world.headers["bob"]
    )
    allowed = await world.client.put(
        f"/api/v1/repositories/{repo_id}/settings", json=body, headers=world.headers["ada"]
    )

    assert refused.status_code == 403
    assert refused.json()["code"] == "insufficient_repository_access"
    assert allowed.status_code == 200
    assert allowed.json()["settings"] == {**body, "test_command": None}


async def test_the_test_command_is_validated_stored_and_shown(world: World) -> None:
    repo_id = (await connect(world, "ada")).json()["id"]
    url = f"/api/v1/repositories/{repo_id}/settings"
    body = {"auto_review": False, "default_model_id": None, "default_base_branch": None}

    stored = await world.client.put(
        url, json={**body, "test_command": "  pytest -q tests/unit  "}, headers=world.headers["ada"]
    )
    shown = await world.client.get(f"/api/v1/repositories/{repo_id}", headers=world.headers["ada"])
    multi_line = await world.client.put(
        url, json={**body, "test_command": "pytest\nrm -rf /"}, headers=world.headers["ada"]
    )
    too_long = await world.client.put(
        url, json={**body, "test_command": "x" * 501}, headers=world.headers["ada"]
    )
    after = await world.client.get(f"/api/v1/repositories/{repo_id}", headers=world.headers["ada"])
    cleared = await world.client.put(url, json={**body, "test_command": None}, headers=world.headers["ada"])

    assert stored.status_code == 200
    assert stored.json()["settings"]["test_command"] == "pytest -q tests/unit"
    assert shown.json()["settings"]["test_command"] == "pytest -q tests/unit"
    assert multi_line.status_code == 400
    assert multi_line.json()["errors"][0]["field"] == "test_command"
    assert too_long.status_code == 400
    assert after.json()["settings"]["test_command"] == "pytest -q tests/unit"
    assert cleared.json()["settings"]["test_command"] is None


async def test_a_default_model_outside_the_catalogue_is_400(world: World) -> None:
    repo_id = (await connect(world, "ada")).json()["id"]
    body = {
        "auto_review": False,
        "default_model_id": "01890000-0000-7000-8000-000000000001",
        "default_base_branch": None,
    }
    response = await world.client.put(
        f"/api/v1/repositories/{repo_id}/settings", json=body, headers=world.headers["ada"]
    )
    assert response.status_code == 400
    assert response.json()["code"] == "unknown_model"


async def test_an_invalid_base_branch_is_400(world: World) -> None:
    repo_id = (await connect(world, "ada")).json()["id"]
    body = {"auto_review": False, "default_model_id": None, "default_base_branch": "bad..branch"}
    response = await world.client.put(
        f"/api/v1/repositories/{repo_id}/settings", json=body, headers=world.headers["ada"]
    )
    assert response.status_code == 400


async def test_the_last_user_leaving_removes_the_webhook(world: World) -> None:
    repo_id = (await connect(world, "ada")).json()["id"]
    await connect(world, "bob")

    assert (
        await world.client.delete(f"/api/v1/repositories/{repo_id}", headers=world.headers["bob"])
    ).status_code == 204
    assert len(world.github.hooks) == 1
    assert (
        await world.client.delete(f"/api/v1/repositories/{repo_id}", headers=world.headers["ada"])
    ).status_code == 204
    assert world.github.hooks == {}
    gone = await world.client.get(f"/api/v1/repositories/{repo_id}", headers=world.headers["ada"])
    assert gone.status_code == 404


async def test_a_failed_webhook_registration_leaves_the_repository_connected_without_one(
    world: World,
) -> None:
    world.github.fail_hooks = True
    response = await connect(world, "ada")
    assert response.status_code == 201
    assert response.json()["webhook_active"] is False
    world.github.fail_hooks = False
    retried = await connect(world, "ada")
    assert retried.json()["webhook_active"] is True


async def deliver(
    world: World,
    secret: str,
    repo_id: int,
    delivery: str,
    event: str = "pull_request",
    payload: dict[str, Any] | None = None,
) -> Any:
    payload = payload or pull_request_event("opened")
    payload["repository"] = repository(id=repo_id, full_name="acme/widgets")
    body, signature = signed(payload, secret)
    return await world.client.post(
        "/api/v1/webhooks/github",
        content=body,
        headers={
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": delivery,
            "X-Hub-Signature-256": signature,
            "Content-Type": "application/json",
        },
    )


async def listed(world: World, who: str) -> list[str]:
    response = await world.client.get("/api/v1/repositories", headers=world.headers[who])
    return [r["full_name"] for r in response.json()["items"]]


async def test_a_repository_deleted_delivery_disconnects_only_once_github_confirms_it(world: World) -> None:
    await connect(world, "ada")
    [secret] = [h["secret"] for h in world.github.hooks.values()]

    forged = await deliver(world, secret, 501, "d-1", "repository", repository_event("deleted"))
    assert forged.status_code == 200
    assert "not confirmed" in forged.json()["detail"]
    assert await listed(world, "ada") == ["acme/widgets"]

    del world.github.repos["acme/widgets"]  # really deleted: GitHub answers 404
    real = await deliver(world, secret, 501, "d-2", "repository", repository_event("deleted"))
    assert real.json()["detail"] == "repository deleted: disconnected"
    assert await listed(world, "ada") == []
    assert any(m == "GET" and p.endswith("/repos/acme/widgets") for m, p, _ in world.github.requests)


async def test_member_removed_is_confirmed_with_the_members_own_token(world: World) -> None:
    await connect(world, "ada")
    await connect(world, "bob")
    [secret] = [h["secret"] for h in world.github.hooks.values()]
    bob_id = abs(hash("bob")) % 10_000_000  # the GitHub user id add_user_with_github stored for bob
    removed = member_event("removed", login="bob-renamed", id=bob_id)

    await deliver(world, secret, 501, "d-1", "member", removed)
    assert await listed(world, "bob") == ["acme/widgets"]  # GitHub still shows bob the repository

    del world.github.repos["acme/widgets"].access[BOB_TOKEN]
    await deliver(
        world, secret, 501, "d-2", "member", member_event("removed", login="bob-renamed", id=bob_id)
    )
    assert await listed(world, "bob") == []
    assert await listed(world, "ada") == ["acme/widgets"]


async def test_a_comment_on_an_unseen_pull_request_fetches_it_through_the_api(world: World) -> None:
    repo_id = (await connect(world, "ada")).json()["id"]
    [secret] = [h["secret"] for h in world.github.hooks.values()]
    world.github.pulls[("acme/widgets", 1347)] = {
        "id": 1347,
        "number": 1347,
        "state": "open",
        "title": "Amazing new feature",
        "body": "",
        "head": "new-topic",
        "base": "main",
        "draft": False,
        "user": "octocat",
    }

    response = await deliver(world, secret, 501, "d-1", "issue_comment", issue_comment_event())

    assert response.json()["status"] == "processed"
    pulls = await world.client.get(f"/api/v1/repositories/{repo_id}/pulls", headers=world.headers["ada"])
    [pull] = pulls.json()["items"]
    assert (pull["number"], pull["head_ref"], pull["base_ref"]) == (1347, "new-topic", "main")
    detail = await world.client.get(f"/api/v1/pulls/{pull['id']}", headers=world.headers["ada"])
    [comment] = detail.json()["comments"]
    assert comment["created_at"] == "2026-11-30T12:10:00Z"


async def test_a_hook_left_at_github_by_a_failed_deletion_is_taken_over_on_reconnect(world: World) -> None:
    repo_id = (await connect(world, "ada")).json()["id"]
    [(hook_id, hook)] = world.github.hooks.items()
    old_secret = hook["secret"]
    world.github.fail_hook_deletes = True
    assert (
        await world.client.delete(f"/api/v1/repositories/{repo_id}", headers=world.headers["ada"])
    ).status_code == 204
    assert list(world.github.hooks) == [hook_id]  # the platform forgot it; GitHub still has it
    world.github.fail_hook_deletes = False

    again = await connect(world, "ada")

    assert again.status_code in {200, 201}, again.text
    assert again.json()["webhook_active"] is True
    assert list(world.github.hooks) == [hook_id]
    new_secret = world.github.hooks[hook_id]["secret"]
    assert new_secret != old_secret
    assert (await deliver(world, old_secret, 501, "d-old")).status_code == 400
    accepted = await deliver(world, new_secret, 501, "d-new")
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "processed"


async def test_reconnecting_a_re_created_repository_refreshes_its_github_id(world: World) -> None:
    await connect(world, "ada")
    world.github.repos["acme/widgets"].id = 777  # deleted and re-created under the same name
    world.github.hooks.clear()

    await connect(world, "ada")

    [secret] = [h["secret"] for h in world.github.hooks.values()]
    stale = await deliver(world, secret, 501, "d-stale")
    current = await deliver(world, secret, 777, "d-current")
    assert stale.status_code == 202  # the old id is another repository now
    assert current.status_code == 200, current.text
    assert current.json()["status"] == "processed"


async def test_two_users_connecting_a_new_repository_at_once_share_one_row(world: World) -> None:
    import asyncio

    ada, bob = await asyncio.gather(connect(world, "ada"), connect(world, "bob"))
    assert ada.status_code == 201
    assert bob.status_code == 201
    assert ada.json()["id"] == bob.json()["id"]
