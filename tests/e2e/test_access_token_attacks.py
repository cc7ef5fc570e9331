"""Forged and malformed access tokens against the running app (RFC 8725), on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import jwt
import pytest
from litestar.testing import AsyncTestClient

from asynccoder.ioc.settings import Settings
from tests.e2e.conftest import ClientFactory
from tests.e2e.identity_support import bearer, cheap, signed_up
from tests.support.jwks_server import SigningKey


@pytest.fixture
def settings(backend_settings: Settings) -> Settings:
    return cheap(backend_settings)


@pytest.fixture
async def api(client_factory: ClientFactory, settings: Settings) -> AsyncIterator[AsyncTestClient[Any]]:
    async with client_factory(settings) as client:
        yield client


def _claims(settings: Settings, user_id: str, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": user_id,
        "role": "admin",
        "typ": "access",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "jti": "x1",
    }
    for name, value in changes.items():
        if value is None:
            claims.pop(name, None)
        else:
            claims[name] = value
    return claims


@pytest.mark.parametrize(
    "case",
    [
        "alg_none",
        "other_secret",
        "rs256_our_issuer",
        "no_exp",
        "no_sub",
        "no_iss",
        "wrong_aud",
        "expired_beyond_leeway",
        "refresh_typed",
        "issued_in_the_future",
    ],
)
async def test_a_bad_access_token_gets_401(api: AsyncTestClient[Any], settings: Settings, case: str) -> None:
    ada = await signed_up(api, "ada@example.com")
    user_id = (await api.get("/api/v1/users/profile", headers=ada)).json()["id"]
    secret = settings.jwt_secret
    tokens = {
        "alg_none": lambda: jwt.encode(_claims(settings, user_id), None, algorithm="none"),
        "other_secret": lambda: jwt.encode(
            _claims(settings, user_id), "another-secret-" + "y" * 32, algorithm="HS256"
        ),
        "rs256_our_issuer": lambda: jwt.encode(
            _claims(settings, user_id), SigningKey().private, algorithm="RS256"
        ),
        "no_exp": lambda: jwt.encode(_claims(settings, user_id, exp=None), secret, algorithm="HS256"),
        "no_sub": lambda: jwt.encode(_claims(settings, user_id, sub=None), secret, algorithm="HS256"),
        "no_iss": lambda: jwt.encode(_claims(settings, user_id, iss=None), secret, algorithm="HS256"),
        "wrong_aud": lambda: jwt.encode(
            _claims(settings, user_id, aud="someone-else"), secret, algorithm="HS256"
        ),
        "expired_beyond_leeway": lambda: jwt.encode(
            _claims(settings, user_id, exp=int(time.time()) - 61), secret, algorithm="HS256"
        ),
        "refresh_typed": lambda: jwt.encode(
            _claims(settings, user_id, typ="refresh"), secret, algorithm="HS256"
        ),
        "issued_in_the_future": lambda: jwt.encode(
            _claims(settings, user_id, iat=int(time.time()) + 3600), secret, algorithm="HS256"
        ),
    }
    response = await api.get("/api/v1/users/profile", headers=bearer(tokens[case]()))
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_the_role_comes_from_the_database_not_the_token(
    api: AsyncTestClient[Any], settings: Settings
) -> None:
    ada = await signed_up(api, "ada@example.com")
    user_id = (await api.get("/api/v1/users/profile", headers=ada)).json()["id"]
    forged_role = jwt.encode(_claims(settings, user_id), settings.jwt_secret, algorithm="HS256")  # says admin
    assert (await api.get("/api/v1/admin/users", headers=bearer(forged_role))).status_code == 403
