"""Tasks triggered from GitHub, end to end: users connect a repository over HTTP (the local GitHub API server
records the webhook and its secret), GitHub's signed deliveries reach the webhook route, the task worker's
maintenance pass (built by the real container) turns them into queued tasks, and the reply comment lands on
the local GitHub server through PyGithub."""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from asynccoder.adapters.github.webhooks import sign
from asynccoder.adapters.system.clock import SystemClock
from asynccoder.adapters.system.ids import Uuid7Generator
from asynccoder.application.billing.credits import GrantCredits, GrantCreditsInput
from asynccoder.domain.ai import ModelTier
from asynccoder.domain.ai import Provider as AiProvider
from asynccoder.domain.ai_catalogue import TaskMode
from asynccoder.ioc.core import make_container
from asynccoder.ioc.settings import Settings
from asynccoder.ioc.tasks import make_task_worker
from tests.e2e.conftest import ClientFactory
from tests.support.ai_catalogue_builders import make_config, make_model, make_price
from tests.support.builders import T0, make_user
from tests.support.code_hosting import access_token, add_user_with_github, in_database
from tests.support.github_api_server import FakeGitHub, github_api_server
from tests.support.github_payloads import issue_comment_event, pull_request_event, repository

ADA_TOKEN = "gho_ada_trigger_0123456789"
BOB_TOKEN = "gho_bob_trigger_0123456789"
FULL_NAME = "acme/widgets"
REPO_HOST_ID = 501
HEAD_SHA = "6dcb09b5b57875f334f61aebed695e2e4193db5e"


@dataclasses.dataclass
class World:
    client: AsyncTestClient[Any]
    github: FakeGitHub
    settings: Settings
    headers: dict[str, dict[str, str]]
    repository_id: str


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    with github_api_server() as state:
        state.tokens = {ADA_TOKEN: "ada", BOB_TOKEN: "bob"}
        state.add_repo(FULL_NAME, id=REPO_HOST_ID, access={ADA_TOKEN: "admin", BOB_TOKEN: "push"})
        state.pulls[(FULL_NAME, 1347)] = {
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
        embedded_worker=False,
        claude_api_key="sk-test-platform",  # a model must be reachable, or the triggered submit is refused
    )
    model = make_model(
        provider=AiProvider.ANTHROPIC, tier=ModelTier.ECONOMY, default_modes=frozenset(TaskMode)
    )

    async def add_model(uow: Any) -> None:
        async with uow:
            await uow.ai_catalogue.save_provider_config(make_config(AiProvider.ANTHROPIC))
            await uow.ai_catalogue.add_model(model)
            await uow.ai_catalogue.add_price(make_price(model.id, effective_from=T0.replace(year=2020)))
            await uow.commit()

    await in_database(settings, add_model)
    headers: dict[str, dict[str, str]] = {}
    for name, token in (("ada", ADA_TOKEN), ("bob", BOB_TOKEN)):
        user = make_user()

        async def add(uow: Any, user: Any = user, token: str = token, name: str = name) -> None:
            await add_user_with_github(uow, user, token, name)
            await GrantCredits(uow, SystemClock(), Uuid7Generator())(
                GrantCreditsInput(user.id, 10_000, f"seed:{user.id}")
            )

        await in_database(settings, add)
        headers[name] = {"Authorization": f"Bearer {access_token(settings, user)}"}
    async with client_factory(settings) as client:
        connected = await client.post(
            "/api/v1/repositories", json={"full_name": FULL_NAME}, headers=headers["ada"]
        )
        assert connected.status_code == 201
        joined = await client.post(
            "/api/v1/repositories", json={"full_name": FULL_NAME}, headers=headers["bob"]
        )
        assert joined.status_code == 201
        repository_id = connected.json()["id"]
        enabled = await client.put(
            f"/api/v1/repositories/{repository_id}/settings",
            json={"auto_review": True, "default_model_id": None, "default_base_branch": None},
            headers=headers["ada"],
        )
        assert enabled.status_code == 200, enabled.text
        yield World(client, github, settings, headers, repository_id)


async def deliver(world: World, event: str, payload: dict[str, Any]) -> None:
    payload["repository"] = repository(id=REPO_HOST_ID, full_name=FULL_NAME)
    body = json.dumps(payload).encode()
    [hook] = world.github.hooks.values()
    response = await world.client.post(
        "/api/v1/webhooks/github",
        content=body,
        headers={
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": str(uuid.uuid4()),
            "X-Hub-Signature-256": sign(hook["secret"], body),
            "Content-Type": "application/json",
            "User-Agent": "GitHub-Hookshot/044aadd",
        },
    )
    assert response.status_code in (200, 202), response.text


async def run_maintenance(settings: Settings) -> None:
    container = make_container(settings)
    try:
        worker = await make_task_worker(container, settings)
        await worker.maintain()
    finally:
        await container.close()


async def tasks_of(world: World, who: str) -> list[dict[str, Any]]:
    response = await world.client.get("/api/v1/tasks", headers=world.headers[who])
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_signed_deliveries_end_as_queued_tasks_and_a_reply_linking_the_task(world: World) -> None:
    for action in ("opened", "synchronize", "synchronize", "synchronize", "synchronize"):
        await deliver(world, "pull_request", pull_request_event(action, head_sha=HEAD_SHA))
    command = issue_comment_event(comment_id=9001)
    command["comment"]["user"] = {"login": "bob", "id": 2, "type": "User"}
    command["comment"]["body"] = "@asynccoder ask Where is the retry policy configured?"
    await deliver(world, "issue_comment", command)

    await run_maintenance(world.settings)
    await run_maintenance(world.settings)  # a second pass finds nothing new to do

    [review] = await tasks_of(world, "ada")  # the connecting admin pays for the auto-review
    assert (review["mode"], review["status"], review["pull_request_number"]) == ("pr_review", "queued", 1347)
    [ask] = await tasks_of(world, "bob")  # the commenter pays for their command
    assert (ask["mode"], ask["status"]) == ("ask", "queued")
    assert ask["instructions"].endswith("Where is the retry policy configured?")
    [reply] = world.github.comments
    assert f"https://coder.example.com/api/v1/tasks/{ask['id']}" in reply["body"]
    assert reply["user"]["login"] == "bob"
