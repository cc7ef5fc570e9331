"""Registration, login, throttling, refresh rotation and logout over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from asynccoder.application.identity.registration import EnsureAdminCommand
from asynccoder.ioc.commands import ensure_admin
from asynccoder.ioc.settings import Settings
from tests.e2e.conftest import ClientFactory
from tests.e2e.identity_support import PASSWORD, bearer, cheap, login, register

PROBLEM_FIELDS = ("type", "title", "status", "detail", "code")


@pytest.fixture
def settings(backend_settings: Settings) -> Settings:
    return cheap(backend_settings, login_max_failures_per_account=3, login_max_failures_per_client=8)


@pytest.fixture
async def api(client_factory: ClientFactory, settings: Settings) -> AsyncIterator[AsyncTestClient[Any]]:
    async with client_factory(settings) as client:
        yield client


async def test_registration_answers_the_same_whether_or_not_the_email_exists(
    api: AsyncTestClient[Any],
) -> None:
    first = await api.post("/api/v1/auth/register", json={"email": "ada@example.com", "password": PASSWORD})
    again = await api.post(
        "/api/v1/auth/register", json={"email": "ADA@example.com", "password": "a different long password"}
    )
    assert (first.status_code, first.json()) == (again.status_code, again.json())
    assert first.status_code == 202
    # Nothing changed for the existing account: the first password still works, the second does not.
    assert (
        await api.post("/api/v1/auth/login", json={"email": "ada@example.com", "password": PASSWORD})
    ).status_code == 200
    wrong = await api.post(
        "/api/v1/auth/login", json={"email": "ada@example.com", "password": "a different long password"}
    )
    assert wrong.status_code == 401


@pytest.mark.parametrize(
    "body",
    [
        {"email": "ada@example.com", "password": "short"},
        {"email": "not-an-email", "password": PASSWORD},
        {"email": "ada@example.com", "password": "x" * 257},
        {"email": "ada@example.com", "password": PASSWORD, "role": "admin"},
        {"email": "ada@example.com"},
    ],
    ids=["weak", "bad_email", "too_long", "privileged_field", "missing_password"],
)
async def test_invalid_registrations_get_400_and_create_nothing(
    api: AsyncTestClient[Any], body: dict[str, Any]
) -> None:
    response = await api.post("/api/v1/auth/register", json=body)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    login_attempt = await api.post(
        "/api/v1/auth/login", json={"email": "ada@example.com", "password": PASSWORD}
    )
    assert login_attempt.status_code == 401


async def test_login_returns_bearer_tokens_that_reach_the_profile(api: AsyncTestClient[Any]) -> None:
    await register(api, "ada@example.com")
    response = await api.post("/api/v1/auth/login", json={"email": "ada@example.com", "password": PASSWORD})
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "refresh_token"}
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 900
    profile = await api.get("/api/v1/users/profile", headers=bearer(body["access_token"]))
    assert profile.status_code == 200
    assert profile.json()["email"] == "ada@example.com"


async def test_unknown_email_wrong_password_and_disabled_user_get_identical_401s(
    api: AsyncTestClient[Any], settings: Settings
) -> None:
    await register(api, "ada@example.com")
    await register(api, "off@example.com")
    admin = await ensure_admin(settings, EnsureAdminCommand(email="root@example.com", password=PASSWORD))
    admin_token = (await login(api, "root@example.com"))["access_token"]
    users = (await api.get("/api/v1/admin/users", headers=bearer(admin_token))).json()["items"]
    off_id = next(u["id"] for u in users if u["email"] == "off@example.com")
    assert admin.created
    disable = await api.put(
        f"/api/v1/admin/users/{off_id}", json={"status": "disabled"}, headers=bearer(admin_token)
    )
    assert disable.status_code == 200

    answers = []
    for email, password in [
        ("nobody@example.com", PASSWORD),
        ("ada@example.com", "the wrong password"),
        ("off@example.com", PASSWORD),
    ]:
        response = await api.post("/api/v1/auth/login", json={"email": email, "password": password})
        answers.append((response.status_code, tuple(response.json()[f] for f in PROBLEM_FIELDS)))
    assert len(set(answers)) == 1
    assert answers[0][0] == 401
    assert answers[0][1][-1] == "invalid_credentials"


async def test_repeated_failures_for_one_account_get_429_with_retry_after(api: AsyncTestClient[Any]) -> None:
    await register(api, "ada@example.com")
    for _ in range(3):
        response = await api.post(
            "/api/v1/auth/login", json={"email": "ada@example.com", "password": "wrong password!"}
        )
        assert response.status_code == 401
    blocked = await api.post("/api/v1/auth/login", json={"email": "ada@example.com", "password": PASSWORD})
    assert blocked.status_code == 429
    assert blocked.json()["code"] == "too_many_attempts"
    assert 0 < int(blocked.headers["retry-after"]) <= 900
    assert blocked.headers["ratelimit-remaining"] == "0"
    assert blocked.headers["ratelimit-reset"] == blocked.headers["retry-after"]


async def test_x_forwarded_for_from_an_untrusted_peer_does_not_escape_the_client_limit(
    api: AsyncTestClient[Any],
) -> None:
    for n in range(8):
        response = await api.post(
            "/api/v1/auth/login",
            json={"email": f"user{n}@example.com", "password": "wrong password!"},
            headers={"X-Forwarded-For": f"198.51.100.{n}"},
        )
        assert response.status_code == 401
    blocked = await api.post(
        "/api/v1/auth/login",
        json={"email": "fresh@example.com", "password": "wrong password!"},
        headers={"X-Forwarded-For": "198.51.100.250"},
    )
    assert blocked.status_code == 429


async def test_refresh_rotates_and_a_reused_token_kills_the_family(api: AsyncTestClient[Any]) -> None:
    await register(api, "ada@example.com")
    first = await login(api, "ada@example.com")
    rotated = await api.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert rotated.status_code == 200
    second = rotated.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert (await api.get("/api/v1/users/profile", headers=bearer(second["access_token"]))).status_code == 200

    reuse = await api.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert reuse.status_code == 401
    assert reuse.json()["code"] == "invalid_refresh_token"
    newer = await api.post("/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert newer.status_code == 401


async def test_logout_revokes_the_family_and_is_idempotent(api: AsyncTestClient[Any]) -> None:
    await register(api, "ada@example.com")
    tokens = await login(api, "ada@example.com")
    for refresh_token in (tokens["refresh_token"], tokens["refresh_token"], "rt_never_issued"):
        response = await api.post("/api/v1/auth/logout", json={"refresh_token": refresh_token})
        assert response.status_code == 204
    after = await api.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert after.status_code == 401


async def test_a_refresh_token_is_not_an_access_token_and_vice_versa(api: AsyncTestClient[Any]) -> None:
    await register(api, "ada@example.com")
    tokens = await login(api, "ada@example.com")
    as_access = await api.get("/api/v1/users/profile", headers=bearer(tokens["refresh_token"]))
    assert as_access.status_code == 401
    assert as_access.headers["www-authenticate"].startswith("Bearer")
    as_refresh = await api.post("/api/v1/auth/refresh", json={"refresh_token": tokens["access_token"]})
    assert as_refresh.status_code == 401


async def test_concurrent_refreshes_with_one_token_never_500(api: AsyncTestClient[Any]) -> None:
    import asyncio

    await register(api, "ada@example.com")
    tokens = await login(api, "ada@example.com")
    responses = await asyncio.gather(
        *(
            api.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
            for _ in range(10)
        )
    )
    statuses = sorted(r.status_code for r in responses)
    assert set(statuses) <= {200, 401}
    assert statuses.count(200) <= 1
