"""The README's first walkthrough: on the embedded defaults with the offline demo model, a new user registers,
connects a local repository and gets an Ask task answered from the real code, announced as a demo."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any
from uuid import UUID

from litestar.testing import AsyncTestClient

from asynccoder.adapters.system.clock import SystemClock
from asynccoder.adapters.system.ids import Uuid7Generator
from asynccoder.application.billing.credits import GrantCredits, GrantCreditsInput
from asynccoder.entrypoints.http.app import create_app
from tests.support.app import make_settings
from tests.support.code_hosting import in_database
from tests.support.git_repos import git


async def _poll(client: AsyncTestClient[Any], url: str, headers: dict[str, str]) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while True:
        body = (await client.get(url, headers=headers)).json()
        if body["status"] in {"succeeded", "failed", "cancelled"} and body["settled_credits"] is not None:
            return body
        assert loop.time() < deadline, body
        await asyncio.sleep(0.05)


async def test_a_new_user_runs_an_ask_task_on_a_local_repository_with_the_demo_model(tmp_path: Path) -> None:
    # The embedded defaults: a fresh SQLite file migrated (and the catalogue seeded) at start-up.
    settings = make_settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'asynccoder.db'}",
        auto_migrate=True,
        data_dir=tmp_path,
        demo_model=True,
        embedded_worker=True,
    )
    repo = settings.repositories_root / "acme" / "demo"
    repo.mkdir(parents=True)
    git("init", "--initial-branch=main", str(repo), cwd=tmp_path)
    (repo / "README.md").write_text("# Demo\n\nA calculator that adds numbers.\n")
    (repo / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    git("add", ".", cwd=repo)
    git("commit", "-m", "init", cwd=repo)

    async with AsyncTestClient(create_app(settings), base_url="http://testserver.local") as client:
        email, password = "new.user@example.com", "correct horse battery"
        assert (
            await client.post("/api/v1/auth/register", json={"email": email, "password": password})
        ).status_code == 202
        login = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
        me = {"Authorization": f"Bearer {login.json()['access_token']}"}
        profile = (await client.get("/api/v1/users/profile", headers=me)).json()

        async def grant(uow: Any) -> None:
            await GrantCredits(uow, SystemClock(), Uuid7Generator())(
                GrantCreditsInput(UUID(profile["id"]), 5_000, "walkthrough")
            )

        await in_database(settings, grant)
        connected = await client.post("/api/v1/repositories", json={"full_name": "acme/demo"}, headers=me)
        assert connected.status_code == 201, connected.text
        created = await client.post(
            "/api/v1/tasks",
            json={"repository_id": connected.json()["id"], "mode": "ask", "instructions": "What is this?"},
            headers=me,
        )
        assert created.status_code == 202, created.text
        done = await _poll(client, created.headers["location"], me)

    assert done["status"] == "succeeded", (done["failure_reason"], done["failure_message"])
    answer = done["result"]["summary_markdown"]
    assert "offline demo model" in answer
    assert "A calculator that adds numbers." in answer
    assert "`README.md`" in answer
