"""Credentials never outlive their controls: password change, sessions, disabling, PAT lifetimes.

Over HTTP on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from asynccoder.application.identity.registration import EnsureAdminCommand
from asynccoder.ioc.commands import ensure_admin
from asynccoder.ioc.settings import Settings
from tests.e2e.conftest import ClientFactory
from tests.e2e.identity_support import PASSWORD, bearer, cheap, login, register

NEW_PASSWORD = "a brand new long password"
PROFILE = "/api/v1/users/profile"


@pytest.fixture
def settings(backend_settings: Settings) -> Settings:
    return cheap(backend_settings)


@pytest.fixture
async def api(client_factory: ClientFactory, settings: Settings) -> AsyncIterator[AsyncTestClient[Any]]:
    async with client_factory(settings) as client:
        yield client


async def _login_as(api: AsyncTestClient[Any], email: str, user_agent: str) -> dict[str, Any]:
    response = await api.post(
        "/api/v1/auth/login", json={"email": email, "password": PASSWORD}, headers={"User-Agent": user_agent}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _pat(api: AsyncTestClient[Any], auth: dict[str, str], **fields: Any) -> dict[str, Any]:
    response = await api.post("/api/v1/auth/tokens", json={"name": "ci", **fields}, headers=auth)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def _refresh(api: AsyncTestClient[Any], refresh_token: str) -> int:
    response = await api.post("/api/v1/auth/refresh", json={"refresh_token": refresh_token})
    return response.status_code


async def test_changing_the_password_ends_every_other_session_and_keeps_the_callers(
    api: AsyncTestClient[Any],
) -> None:
    await register(api, "ada@example.com")
    laptop = await _login_as(api, "ada@example.com", "laptop")
    phone = await _login_as(api, "ada@example.com", "phone")
    pat = await _pat(api, bearer(laptop["access_token"]))

    changed = await api.put(
        "/api/v1/users/password",
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        headers=bearer(laptop["access_token"]),
    )

    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert body["sessions_ended"] >= 1
    assert body["personal_access_tokens_revoked"] == 0
    assert changed.headers["cache-control"] == "no-store"
    # The other session is over: its access JWT and its refresh token.
    assert (await api.get(PROFILE, headers=bearer(phone["access_token"]))).status_code == 401
    assert await _refresh(api, phone["refresh_token"]) == 401
    # The caller's session goes on with the new access token (the old one was issued before the change).
    assert (await api.get(PROFILE, headers=bearer(laptop["access_token"]))).status_code == 401
    assert (await api.get(PROFILE, headers=bearer(body["access_token"]))).status_code == 200
    assert await _refresh(api, laptop["refresh_token"]) == 200
    # Personal access tokens stay unless asked for.
    assert (await api.get(PROFILE, headers=bearer(pat["token"]))).status_code == 200
    # Only the new password signs in, and a login right after the change works at once.
    wrong = await api.post("/api/v1/auth/login", json={"email": "ada@example.com", "password": PASSWORD})
    assert wrong.status_code == 401
    fresh = await login(api, "ada@example.com", NEW_PASSWORD)
    assert (await api.get(PROFILE, headers=bearer(fresh["access_token"]))).status_code == 200


async def test_changing_the_password_can_revoke_every_personal_access_token(
    api: AsyncTestClient[Any],
) -> None:
    await register(api, "ada@example.com")
    session = await login(api, "ada@example.com")
    pat = await _pat(api, bearer(session["access_token"]))
    changed = await api.put(
        "/api/v1/users/password",
        json={
            "current_password": PASSWORD,
            "new_password": NEW_PASSWORD,
            "revoke_personal_access_tokens": True,
        },
        headers=bearer(session["access_token"]),
    )
    assert changed.status_code == 200
    assert changed.json()["personal_access_tokens_revoked"] == 1
    assert (await api.get(PROFILE, headers=bearer(pat["token"]))).status_code == 401


async def test_a_wrong_current_password_changes_nothing_and_is_a_400_naming_the_field(
    api: AsyncTestClient[Any],
) -> None:
    await register(api, "ada@example.com")
    session = await login(api, "ada@example.com")
    refused = await api.put(
        "/api/v1/users/password",
        json={"current_password": "not my password!", "new_password": NEW_PASSWORD},
        headers=bearer(session["access_token"]),
    )
    assert refused.status_code == 400
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["code"] == "invalid_current_password"
    assert [e["field"] for e in refused.json()["errors"]] == ["current_password"]
    assert (await api.get(PROFILE, headers=bearer(session["access_token"]))).status_code == 200
    await login(api, "ada@example.com")  # the old password still works


async def test_guessing_the_current_password_with_a_stolen_token_is_throttled(
    api: AsyncTestClient[Any],
) -> None:
    await register(api, "ada@example.com")
    session = await login(api, "ada@example.com")
    statuses = []
    for n in range(8):
        response = await api.put(
            "/api/v1/users/password",
            json={"current_password": f"guess number {n}!", "new_password": NEW_PASSWORD},
            headers=bearer(session["access_token"]),
        )
        statuses.append(response.status_code)
    assert statuses[:5] == [400] * 5
    assert statuses[-1] == 429


async def test_sessions_are_listed_with_the_current_one_marked_and_can_be_ended(
    api: AsyncTestClient[Any],
) -> None:
    await register(api, "ada@example.com")
    laptop = await _login_as(api, "ada@example.com", "laptop/1.0")
    phone = await _login_as(api, "ada@example.com", "phone/2.0")

    listed = await api.get("/api/v1/auth/sessions", headers=bearer(laptop["access_token"]))

    assert listed.status_code == 200
    items = listed.json()["items"]
    assert [(i["user_agent"], i["current"]) for i in items] == [("phone/2.0", False), ("laptop/1.0", True)]
    assert all(i["client_ip"] for i in items)
    assert not {"refresh_token", "token_hash"} & set(items[0])
    phone_id = items[0]["id"]

    ended = await api.delete(f"/api/v1/auth/sessions/{phone_id}", headers=bearer(laptop["access_token"]))
    assert ended.status_code == 204
    assert await _refresh(api, phone["refresh_token"]) == 401
    after = await api.get("/api/v1/auth/sessions", headers=bearer(laptop["access_token"]))
    assert [i["user_agent"] for i in after.json()["items"]] == ["laptop/1.0"]


async def test_another_users_session_is_404_and_stays_alive(api: AsyncTestClient[Any]) -> None:
    await register(api, "ada@example.com")
    await register(api, "bob@example.com")
    ada = await login(api, "ada@example.com")
    bob = await login(api, "bob@example.com")
    [ada_session] = (await api.get("/api/v1/auth/sessions", headers=bearer(ada["access_token"]))).json()[
        "items"
    ]

    response = await api.delete(
        f"/api/v1/auth/sessions/{ada_session['id']}", headers=bearer(bob["access_token"])
    )

    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert await _refresh(api, ada["refresh_token"]) == 200


async def test_disabling_revokes_every_credential_and_re_enabling_revives_none(
    api: AsyncTestClient[Any], settings: Settings
) -> None:
    await register(api, "ada@example.com")
    ada = await login(api, "ada@example.com")
    pat = await _pat(api, bearer(ada["access_token"]))
    await ensure_admin(settings, EnsureAdminCommand(email="root@example.com", password=PASSWORD))
    root = bearer((await login(api, "root@example.com"))["access_token"])
    ada_id = (await api.get(PROFILE, headers=bearer(ada["access_token"]))).json()["id"]

    for status in ("disabled", "active"):
        response = await api.put(f"/api/v1/admin/users/{ada_id}", json={"status": status}, headers=root)
        assert response.status_code == 200

    assert (await api.get(PROFILE, headers=bearer(ada["access_token"]))).status_code == 401
    assert (await api.get(PROFILE, headers=bearer(pat["token"]))).status_code == 401
    assert await _refresh(api, ada["refresh_token"]) == 401
    again = await login(api, "ada@example.com")  # a new sign-in works at once
    assert (await api.get(PROFILE, headers=bearer(again["access_token"]))).status_code == 200


async def test_a_token_made_with_a_short_lived_token_does_not_outlive_it(api: AsyncTestClient[Any]) -> None:
    await register(api, "ada@example.com")
    session = await login(api, "ada@example.com")
    short = await _pat(api, bearer(session["access_token"]), expires_in_days=2)
    short_expiry = datetime.fromisoformat(short["expires_at"])

    minted = await _pat(api, bearer(short["token"]))  # asks for no expiry
    assert minted["expires_at"] is not None
    assert datetime.fromisoformat(minted["expires_at"]) <= short_expiry

    longer = await api.post(
        "/api/v1/auth/tokens", json={"name": "forever", "expires_in_days": 30}, headers=bearer(short["token"])
    )
    assert longer.status_code == 422
    assert longer.json()["code"] == "token_outlives_credential"
    shorter = await _pat(
        api, bearer(short["token"]), expires_at=(datetime.now(UTC) + timedelta(days=1)).isoformat()
    )
    assert datetime.fromisoformat(shorter["expires_at"]) <= short_expiry
