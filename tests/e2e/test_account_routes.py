"""Personal access tokens, profile, administration and object access over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar.routes import HTTPRoute
from litestar.testing import AsyncTestClient

from asynccoder.application.identity.registration import EnsureAdminCommand
from asynccoder.ioc.commands import ensure_admin
from asynccoder.ioc.settings import Settings
from tests.e2e.conftest import ClientFactory
from tests.e2e.identity_support import bearer, cheap, login, signed_up

SECRET_FIELDS = {"password_hash", "token_hash", "sealed_token", "state_hash", "code_verifier", "password"}


@pytest.fixture
def settings(backend_settings: Settings) -> Settings:
    return cheap(backend_settings)


@pytest.fixture
async def api(client_factory: ClientFactory, settings: Settings) -> AsyncIterator[AsyncTestClient[Any]]:
    async with client_factory(settings) as client:
        yield client


async def _admin(
    api: AsyncTestClient[Any], settings: Settings, email: str = "root@example.com"
) -> dict[str, str]:
    await ensure_admin(settings, EnsureAdminCommand(email=email, password="correct horse battery staple"))
    return bearer((await login(api, email))["access_token"])


# Personal access tokens


async def test_a_personal_access_token_is_shown_once_and_works_as_a_bearer_token(
    api: AsyncTestClient[Any],
) -> None:
    ada = await signed_up(api, "ada@example.com")
    created = await api.post("/api/v1/auth/tokens", json={"name": "ci", "expires_in_days": 30}, headers=ada)
    assert created.status_code == 201
    body = created.json()
    assert created.headers["location"] == f"/api/v1/auth/tokens/{body['id']}"
    assert body["token"].startswith("acp_")
    assert body["token"].startswith(body["prefix"])

    me = await api.get("/api/v1/users/profile", headers=bearer(body["token"]))
    assert me.status_code == 200
    assert me.json()["email"] == "ada@example.com"

    listed = await api.get("/api/v1/auth/tokens", headers=ada)
    assert listed.status_code == 200
    [item] = listed.json()["items"]
    assert "token" not in item
    assert body["token"] not in listed.text
    assert item["last_used_at"] is not None


async def test_a_revoked_token_gets_401(api: AsyncTestClient[Any]) -> None:
    ada = await signed_up(api, "ada@example.com")
    body = (await api.post("/api/v1/auth/tokens", json={"name": "ci"}, headers=ada)).json()
    assert (await api.delete(f"/api/v1/auth/tokens/{body['id']}", headers=ada)).status_code == 204
    assert (await api.get("/api/v1/users/profile", headers=bearer(body["token"]))).status_code == 401
    assert (await api.get("/api/v1/users/profile", headers=bearer("acp_madeup"))).status_code == 401


async def test_token_lists_paginate_and_reject_bad_cursors(api: AsyncTestClient[Any]) -> None:
    ada = await signed_up(api, "ada@example.com")
    for n in range(3):
        await api.post("/api/v1/auth/tokens", json={"name": f"t{n}"}, headers=ada)
    first = (await api.get("/api/v1/auth/tokens?limit=2", headers=ada)).json()
    second = (await api.get(f"/api/v1/auth/tokens?limit=2&cursor={first['next_cursor']}", headers=ada)).json()
    assert [t["name"] for t in first["items"] + second["items"]] == ["t2", "t1", "t0"]
    assert second["next_cursor"] is None
    assert (await api.get("/api/v1/auth/tokens?cursor=nope", headers=ada)).status_code == 400
    assert (await api.get("/api/v1/auth/tokens?limit=101", headers=ada)).status_code == 400


# Object access: every route of this feature with an object id, B acting on A's object.


async def test_b_gets_404_for_every_object_route_of_a_and_a_is_unchanged(api: AsyncTestClient[Any]) -> None:
    ada = await signed_up(api, "ada@example.com")
    bob = await signed_up(api, "bob@example.com")
    token = (await api.post("/api/v1/auth/tokens", json={"name": "ci"}, headers=ada)).json()
    [session] = (await api.get("/api/v1/auth/sessions", headers=ada)).json()["items"]
    objects = {
        "/api/v1/auth/tokens/{token_id:uuid}": token["id"],
        "/api/v1/auth/sessions/{session_id:uuid}": session["id"],
    }

    app = api.app
    routes = [
        (route.path, method)
        for route in app.routes
        if isinstance(route, HTTPRoute)
        and "{" in route.path
        and route.path.startswith(("/api/v1/auth", "/api/v1/users"))
        for handler in route.route_handlers
        for method in handler.http_methods
        if method not in {"OPTIONS", "HEAD"}
    ]
    assert routes, "no object routes found"
    for path, method in routes:
        assert path in objects, f"{method} {path}: add an object-access case"
        url = path.replace(path[path.index("{") : path.index("}") + 1], objects[path])
        response = await api.request(method, url, headers=bob, json={})
        assert response.status_code == 404, f"{method} {path}"
    # A's token still works and is still listed, unrevoked.
    assert (await api.get("/api/v1/users/profile", headers=bearer(token["token"]))).status_code == 200
    [item] = (await api.get("/api/v1/auth/tokens", headers=ada)).json()["items"]
    assert item["revoked_at"] is None
    assert (await api.get("/api/v1/auth/tokens", headers=bob)).json()["items"] == []
    # A's session is still live and listed only to A.
    assert [s["id"] for s in (await api.get("/api/v1/auth/sessions", headers=ada)).json()["items"]] == [
        session["id"]
    ]
    assert all(
        s["id"] != session["id"]
        for s in (await api.get("/api/v1/auth/sessions", headers=bob)).json()["items"]
    )


# Profile


async def test_the_profile_shows_no_credential_material(api: AsyncTestClient[Any]) -> None:
    ada = await signed_up(api, "ada@example.com")
    profile = (await api.get("/api/v1/users/profile", headers=ada)).json()
    assert set(profile) & SECRET_FIELDS == set()
    assert profile["has_password"] is True
    assert profile["role"] == "user"


async def test_only_the_display_name_can_be_changed(api: AsyncTestClient[Any]) -> None:
    ada = await signed_up(api, "ada@example.com")
    ok = await api.put("/api/v1/users/profile", json={"display_name": "Ada L."}, headers=ada)
    assert ok.status_code == 200
    assert ok.json()["display_name"] == "Ada L."
    for extra in ({"role": "admin"}, {"email": "x@example.com"}, {"credits": 1000}, {"status": "active"}):
        response = await api.put(
            "/api/v1/users/profile", json={"display_name": "Hacker", **extra}, headers=ada
        )
        assert response.status_code == 400, extra
    profile = (await api.get("/api/v1/users/profile", headers=ada)).json()
    assert (profile["display_name"], profile["role"], profile["email"]) == (
        "Ada L.",
        "user",
        "ada@example.com",
    )


# Administration


PLACEHOLDERS = {"uuid": "01890000-0000-7000-8000-000000000000", "int": "1", "str": "x", "path": "x"}


async def test_every_admin_route_answers_403_to_a_user_token(api: AsyncTestClient[Any]) -> None:
    ada = await signed_up(api, "ada@example.com")
    me = (await api.get("/api/v1/users/profile", headers=ada)).json()
    probed = 0
    for route in api.app.routes:
        if not isinstance(route, HTTPRoute) or "/admin" not in route.path:
            continue
        url = re.sub(r"\{(\w+):(\w+)\}", lambda m: PLACEHOLDERS.get(m.group(2), "x"), route.path)
        url = url.replace(PLACEHOLDERS["uuid"], me["id"]) if "{user_id:uuid}" in route.path else url
        for handler in route.route_handlers:
            for method in handler.http_methods - {"OPTIONS", "HEAD"}:
                response = await api.request(method, url, headers=ada, json={"role": "admin"})
                assert response.status_code == 403, f"{method} {route.path}"
                probed += 1
    assert probed >= 2
    assert (await api.get("/api/v1/users/profile", headers=ada)).json()["role"] == "user"


async def test_admin_routes_answer_403_to_a_user(api: AsyncTestClient[Any]) -> None:
    ada = await signed_up(api, "ada@example.com")
    me = (await api.get("/api/v1/users/profile", headers=ada)).json()
    assert (await api.get("/api/v1/admin/users", headers=ada)).status_code == 403
    promote = await api.put(f"/api/v1/admin/users/{me['id']}", json={"role": "admin"}, headers=ada)
    assert promote.status_code == 403
    assert (await api.get("/api/v1/users/profile", headers=ada)).json()["role"] == "user"


async def test_an_admin_disables_a_user_whose_tokens_then_stop_working(
    api: AsyncTestClient[Any], settings: Settings
) -> None:
    ada = await signed_up(api, "ada@example.com")
    pat = (await api.post("/api/v1/auth/tokens", json={"name": "ci"}, headers=ada)).json()["token"]
    root = await _admin(api, settings)
    listed = (await api.get("/api/v1/admin/users", headers=root)).json()
    ada_id = next(u["id"] for u in listed["items"] if u["email"] == "ada@example.com")
    assert all(set(u) & SECRET_FIELDS == set() for u in listed["items"])

    changed = await api.put(f"/api/v1/admin/users/{ada_id}", json={"status": "disabled"}, headers=root)
    assert changed.status_code == 200
    assert changed.json()["status"] == "disabled"
    assert (await api.get("/api/v1/users/profile", headers=ada)).status_code == 401
    assert (await api.get("/api/v1/users/profile", headers=bearer(pat))).status_code == 401

    await api.put(f"/api/v1/admin/users/{ada_id}", json={"status": "active", "role": "admin"}, headers=root)
    # Re-enabling revives no credential issued before the account was disabled; a new sign-in works.
    assert (await api.get("/api/v1/users/profile", headers=ada)).status_code == 401
    assert (await api.get("/api/v1/users/profile", headers=bearer(pat))).status_code == 401
    again = bearer((await login(api, "ada@example.com"))["access_token"])
    assert (await api.get("/api/v1/users/profile", headers=again)).json()["role"] == "admin"


async def test_an_admin_cannot_demote_or_disable_themselves(
    api: AsyncTestClient[Any], settings: Settings
) -> None:
    root = await _admin(api, settings)
    me = (await api.get("/api/v1/users/profile", headers=root)).json()
    for change in ({"role": "user"}, {"status": "disabled"}):
        response = await api.put(f"/api/v1/admin/users/{me['id']}", json=change, headers=root)
        assert response.status_code == 422
        assert response.json()["code"] == "cannot_change_own_access"
    assert (await api.get("/api/v1/users/profile", headers=root)).json()["role"] == "admin"


async def test_unknown_users_and_fields_on_the_admin_route(
    api: AsyncTestClient[Any], settings: Settings
) -> None:
    root = await _admin(api, settings)
    missing = await api.put(
        "/api/v1/admin/users/01890000-0000-7000-8000-000000000000", json={"role": "admin"}, headers=root
    )
    assert missing.status_code == 404
    me = (await api.get("/api/v1/users/profile", headers=root)).json()
    bad = await api.put(f"/api/v1/admin/users/{me['id']}", json={"credits": 5}, headers=root)
    assert bad.status_code == 400


# The API description


async def test_no_response_schema_has_a_credential_field(api: AsyncTestClient[Any]) -> None:
    document = (await api.get("/schema/openapi.json")).json()
    found = set()
    for name, schema in document["components"]["schemas"].items():
        for prop in schema.get("properties", {}):
            if prop in SECRET_FIELDS and not name.startswith(("Registration", "Credentials")):
                found.add(f"{name}.{prop}")
    assert found == set()
