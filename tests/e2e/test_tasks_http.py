"""Tasks over HTTP on SQLite and PostgreSQL, with the embedded worker running them."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from dishka import Provider, Scope, provide
from litestar.testing import AsyncTestClient

from asynccoder.adapters.ai.scripted import ScriptedChatModelFactory, ScriptedTurn
from asynccoder.adapters.system.clock import SystemClock
from asynccoder.adapters.system.ids import Uuid7Generator
from asynccoder.adapters.system.platform_access import ConfiguredPlatformKeys
from asynccoder.application.billing.credits import GrantCredits, GrantCreditsInput
from asynccoder.application.ports.ai import PlatformKeys
from asynccoder.domain.ai import ModelTier, ToolCall, Usage
from asynccoder.domain.ai import Provider as AiProvider
from asynccoder.domain.ai_catalogue import TaskMode
from asynccoder.domain.code_hosting import Permission, RepositoryAccess
from asynccoder.entrypoints.http.app import create_app
from asynccoder.ioc.ai import ScriptedAiProvider
from asynccoder.ioc.settings import Settings
from tests.support.ai_catalogue_builders import make_config, make_model, make_price
from tests.support.billing import seed_catalogue
from tests.support.builders import T0, make_user
from tests.support.code_hosting import access_token, in_database, make_repository
from tests.support.git_repos import make_repo

MODEL = "claude-http"


class PlatformKeyProvider(Provider):
    @provide(scope=Scope.APP)
    def platform_keys(self) -> PlatformKeys:
        return ConfiguredPlatformKeys({AiProvider.ANTHROPIC: "sk-test-platform"})


async def _seed(
    settings: Settings, *, credits: int = 10_000, permission: Permission = Permission.WRITE
) -> Any:
    owner, stranger = make_user(), make_user()
    path = make_repo(settings.repositories_root, "acme/http-tasks", feature=False)
    repo = make_repository(host="local", host_id=None, full_name="acme/http-tasks", clone_url=str(path))
    model = make_model(
        provider=AiProvider.ANTHROPIC,
        model_name=MODEL,
        tier=ModelTier.ECONOMY,
        default_modes=frozenset(TaskMode),
    )

    async def seed(uow: Any) -> None:
        await seed_catalogue(lambda: uow)
        async with uow:
            await uow.users.add(owner)
            await uow.users.add(stranger)
            await uow.repositories.add(repo)
            await uow.repositories.save_access(RepositoryAccess(owner.id, repo.id, permission, T0, T0))
            await uow.ai_catalogue.save_provider_config(make_config(AiProvider.ANTHROPIC))
            await uow.ai_catalogue.add_model(model)
            await uow.ai_catalogue.add_price(make_price(model.id, effective_from=T0.replace(year=2020)))
            await uow.commit()
        await GrantCredits(uow, SystemClock(), Uuid7Generator())(GrantCreditsInput(owner.id, credits, "seed"))

    await in_database(settings, seed)
    return owner, stranger, repo


@asynccontextmanager
async def _client(
    settings: Settings, factory: ScriptedChatModelFactory, *, platform_key: bool = True
) -> AsyncIterator[AsyncTestClient[Any]]:
    overrides: list[Provider] = [ScriptedAiProvider(factory)]
    if platform_key:
        overrides.append(PlatformKeyProvider())
    app = create_app(settings, overrides=overrides)
    async with AsyncTestClient(app, base_url="http://testserver.local") as client:
        yield client


async def _until_settled(client: AsyncTestClient[Any], url: str, headers: dict[str, str]) -> Any:
    """Polls until the task ended and its credits were settled (the worker settles right after the end)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20
    while True:
        body = (await client.get(url, headers=headers)).json()
        if body["settled_credits"] is not None:
            return body
        assert loop.time() < deadline, body
        await asyncio.sleep(0.05)


async def test_an_ask_task_runs_to_completion_and_its_receipt_matches_the_charge(
    backend_settings: Settings, tmp_path: Path
) -> None:
    settings = dataclasses.replace(backend_settings, embedded_worker=True, data_dir=tmp_path)
    owner, stranger, repo = await _seed(settings)
    factory = ScriptedChatModelFactory()
    # The real coding agent runs: it reads the real repository through its tools, then submits.
    factory.model(MODEL).add(
        ScriptedTurn(tool_calls=(ToolCall("c1", "view", {"path": "app.py"}),), usage=Usage(2_000, 300)),
        ScriptedTurn(
            tool_calls=(
                ToolCall("c2", "submit", {"answer": "It prints hi (app.py:1).", "cited_files": ["app.py"]}),
            ),
            usage=Usage(2_100, 200),
        ),
    )
    me = {"Authorization": f"Bearer {access_token(settings, owner)}"}
    them = {"Authorization": f"Bearer {access_token(settings, stranger)}"}
    async with _client(settings, factory) as client:
        created = await client.post(
            "/api/v1/tasks",
            json={"repository_id": str(repo.id), "mode": "ask", "instructions": "How does it build?"},
            headers={**me, "Idempotency-Key": "first"},
        )
        assert created.status_code == 202, created.text
        url = created.headers["location"]
        again = await client.post(
            "/api/v1/tasks",
            json={"repository_id": str(repo.id), "mode": "ask", "instructions": "How does it build?"},
            headers={**me, "Idempotency-Key": "first"},
        )
        assert again.json()["id"] == created.json()["id"]
        done = await _until_settled(client, url, me)
        assert done["status"] == "succeeded", (done["failure_reason"], done["failure_message"])
        assert done["result"]["summary_markdown"].startswith("It prints hi (app.py:1).")
        assert "**Files read:** `app.py`" in done["result"]["summary_markdown"]
        logs = (await client.get(f"{url}/logs", headers=me)).json()
        receipt = (await client.get(f"{url}/receipt", headers=me)).json()
        listed = (await client.get("/api/v1/tasks?status=succeeded", headers=me)).json()
        analytics = (await client.get("/api/v1/tasks/analytics", headers=me)).json()
        strangers = [
            (await client.get(url, headers=them)).status_code,
            (await client.get(f"{url}/logs", headers=them)).status_code,
            (await client.get(f"{url}/receipt", headers=them)).status_code,
            (await client.delete(url, headers=them)).status_code,
            (await client.put(url, json={"priority": 1}, headers=them)).status_code,
        ]
        finished_cancel = await client.delete(url, headers=me)
        credits = (await client.get("/api/v1/users/credits", headers=me)).json()
    assert [line["message"] for line in logs["items"]] == ["step 1: view", "step 2: submit"]
    assert receipt["settled_credits"] == sum(line["billed_credits"] for line in receipt["lines"]) > 0
    assert receipt["lines"][0]["input_tokens"] == 2_000
    assert [t["id"] for t in listed["items"]] == [done["id"]]
    assert [(c["status"], c["count"]) for c in analytics["counts"]] == [("succeeded", 1)]
    assert strangers == [404, 404, 404, 404, 404]
    assert finished_cancel.status_code == 409
    assert finished_cancel.json()["code"] == "task_finished"
    assert (credits["available_credits"], credits["held_credits"]) == (10_000 - receipt["settled_credits"], 0)


async def test_submit_refusals_are_problem_documents(backend_settings: Settings, tmp_path: Path) -> None:
    backend_settings = dataclasses.replace(backend_settings, data_dir=tmp_path)
    owner, _, repo = await _seed(backend_settings, credits=1_500, permission=Permission.READ)
    me = {"Authorization": f"Bearer {access_token(backend_settings, owner)}"}
    body = {"repository_id": str(repo.id), "mode": "ask", "instructions": "Why?", "budget_cap_credits": 1_000}
    async with _client(backend_settings, ScriptedChatModelFactory()) as client:
        writing = await client.post("/api/v1/tasks", json={**body, "mode": "debug"}, headers=me)
        no_pull = await client.post(
            "/api/v1/tasks", json={**body, "mode": "pr_review", "pull_request_number": 3}, headers=me
        )
        too_dear = await client.post("/api/v1/tasks", json={**body, "budget_cap_credits": 2_000}, headers=me)
        first = await client.post("/api/v1/tasks", json=body, headers={**me, "Idempotency-Key": "k"})
        reused = await client.post(
            "/api/v1/tasks", json={**body, "instructions": "Other"}, headers={**me, "Idempotency-Key": "k"}
        )
        over_limit = await client.post("/api/v1/tasks", json={**body, "budget_cap_credits": 10}, headers=me)
        url = first.headers["location"]
        edited = await client.put(url, json={"instructions": "Why not?"}, headers=me)
        cancelled = await client.delete(url, headers=me)
        cancelled_again = await client.delete(url, headers=me)
        late_edit = await client.put(url, json={"priority": 9}, headers=me)
        unknown_field = await client.post("/api/v1/tasks", json={**body, "surprise": 1}, headers=me)
    assert (writing.status_code, writing.json()["code"]) == (403, "repository_write_access_required")
    assert (no_pull.status_code, no_pull.json()["code"]) == (404, "pull_request_not_found")
    assert (too_dear.status_code, too_dear.json()["code"]) == (402, "insufficient_credits")
    assert first.status_code == 202
    assert (reused.status_code, reused.json()["code"]) == (409, "idempotency_key_reused")
    assert over_limit.status_code == 429
    assert (over_limit.json()["code"], over_limit.json()["limit"]) == ("concurrency_limit_reached", 1)
    assert over_limit.headers["content-type"].startswith("application/problem+json")
    assert edited.json()["instructions"] == "Why not?"
    assert [cancelled.json()["status"], cancelled_again.json()["status"]] == ["cancelled", "cancelled"]
    assert cancelled.json()["settled_credits"] == 0
    assert (late_edit.status_code, late_edit.json()["code"]) == (409, "task_not_queued")
    assert unknown_field.status_code == 400


async def test_a_task_no_model_can_serve_is_refused_with_422(
    backend_settings: Settings, tmp_path: Path
) -> None:
    settings = dataclasses.replace(backend_settings, data_dir=tmp_path)
    owner, _, repo = await _seed(settings, credits=1_500)
    me = {"Authorization": f"Bearer {access_token(settings, owner)}"}
    body = {"repository_id": str(repo.id), "mode": "ask", "instructions": "Why?", "budget_cap_credits": 1_000}
    async with _client(settings, ScriptedChatModelFactory(), platform_key=False) as client:
        refused = await client.post("/api/v1/tasks", json=body, headers=me)
        listed = await client.get("/api/v1/tasks", headers=me)
        credits = (await client.get("/api/v1/users/credits", headers=me)).json()
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["code"] == "no_model_available"
    assert listed.json()["items"] == []
    assert (credits["available_credits"], credits["held_credits"]) == (1_500, 0)
