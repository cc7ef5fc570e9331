"""Development mode without GitHub: repositories are local git directories and everything works offline."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any
from uuid import UUID

from asynccoder.application.code_hosting.pull_requests import (
    OpenPullRequest,
    OpenPullRequestInput,
)
from asynccoder.ioc.core import make_container
from asynccoder.ioc.settings import Settings
from tests.e2e.conftest import ClientFactory
from tests.support.builders import make_user
from tests.support.code_hosting import access_token, in_database
from tests.support.git_repos import make_repo


async def test_a_local_repository_is_connected_and_gets_a_platform_pull_request(
    client_factory: ClientFactory, backend_settings: Settings, tmp_path: Path
) -> None:
    make_repo(tmp_path, "acme/demo")
    settings = dataclasses.replace(backend_settings, local_repositories_root=tmp_path)
    assert settings.uses_local_code_host
    user = make_user()

    async def add(uow: Any) -> None:
        async with uow:
            await uow.users.add(user)
            await uow.commit()

    await in_database(settings, add)
    auth = {"Authorization": f"Bearer {access_token(settings, user)}"}
    async with client_factory(settings) as client:
        connectable = await client.get("/api/v1/repositories", params={"source": "github"}, headers=auth)
        created = await client.post("/api/v1/repositories", json={"full_name": "acme/demo"}, headers=auth)

        assert [r["full_name"] for r in connectable.json()["items"]] == ["acme/demo"]
        assert created.status_code == 201
        body = created.json()
        assert body["host"] == "local"
        shown = await client.get(f"/api/v1/repositories/{body['id']}", headers=auth)
        # No server path in any answer: a local repository has no web page.
        assert body["html_url"] is None
        assert connectable.json()["items"][0]["html_url"] is None
        assert shown.json()["html_url"] is None
        for answer in (connectable, created, shown):
            assert str(tmp_path) not in answer.text
        assert body["permission"] == "admin"
        assert body["webhook_active"] is False

        container = make_container(settings)
        try:
            async with container() as request:
                opener = await request.get(OpenPullRequest)
                pull = await opener(
                    OpenPullRequestInput(user.as_actor(), UUID(body["id"]), "feature", "Feature", "Body")
                )
        finally:
            await container.close()

        listed = await client.get(f"/api/v1/repositories/{body['id']}/pulls", headers=auth)
        detail = await client.get(f"/api/v1/pulls/{pull.id}", headers=auth)
    assert [p["head_ref"] for p in listed.json()["items"]] == ["feature"]
    assert detail.json()["pull_request"]["opened_by_platform"] is True
