"""Every route that names a repository or pull request answers 404 to a user without access (generated)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from litestar.routes import HTTPRoute

from asynccoder.domain.code_hosting import Permission
from asynccoder.ioc.settings import Settings
from tests.e2e.conftest import ClientFactory
from tests.support.builders import make_user
from tests.support.code_hosting import access_token, in_database, make_pull, seed_repository

BODIES = {"PUT": {"auto_review": True, "default_model_id": None, "default_base_branch": "main"}}


async def test_a_stranger_gets_404_on_every_repository_and_pull_request_route(
    client_factory: ClientFactory, backend_settings: Settings
) -> None:
    settings = dataclasses.replace(backend_settings, code_host="github")
    owner, stranger = make_user(), make_user()

    async def seed(uow: Any) -> Any:
        repo = await seed_repository(uow, users=[(owner, Permission.ADMIN)])
        async with uow:
            await uow.users.add(stranger)
            pull = await uow.pull_requests.upsert(make_pull(repo.id))
            await uow.commit()
        return repo, pull

    repo, pull = await in_database(settings, seed)
    ids = {"repository_id": str(repo.id), "pull_request_id": str(pull.id)}
    as_owner = {"Authorization": f"Bearer {access_token(settings, owner)}"}
    as_stranger = {"Authorization": f"Bearer {access_token(settings, stranger)}"}

    async with client_factory(settings) as client:
        app = client.app
        probed = []
        for route in app.routes:
            if not isinstance(route, HTTPRoute) or not any(f"{{{name}" in route.path for name in ids):
                continue
            url = route.path
            for name, value in ids.items():
                url = url.replace(f"{{{name}:uuid}}", value)
            for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
                response = await client.request(method, url, json=BODIES.get(method), headers=as_stranger)
                assert response.status_code == 404, f"{method} {route.path}: {response.status_code}"
                probed.append(f"{method} {route.path}")
        still = await client.get(f"/api/v1/repositories/{repo.id}", headers=as_owner)

    assert len(probed) >= 5
    assert still.status_code == 200
    assert still.json()["settings"]["auto_review"] is False


@pytest.mark.parametrize("path", ["/api/v1/repositories/not-a-uuid", "/api/v1/pulls/123"])
async def test_malformed_ids_are_404_not_500(
    client_factory: ClientFactory, backend_settings: Settings, path: str
) -> None:
    user = make_user()

    async def add(uow: Any) -> None:
        async with uow:
            await uow.users.add(user)
            await uow.commit()

    await in_database(backend_settings, add)
    async with client_factory(backend_settings) as client:
        response = await client.get(
            path, headers={"Authorization": f"Bearer {access_token(backend_settings, user)}"}
        )
    assert response.status_code in {400, 404}
