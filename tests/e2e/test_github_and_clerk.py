"""GitHub connection and Clerk sign-in over HTTP, against local servers speaking the real protocols."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa
from litestar.testing import AsyncTestClient

from asynccoder.adapters.sqlalchemy.database import create_engine
from asynccoder.ioc.settings import Settings
from tests.e2e.conftest import ClientFactory
from tests.e2e.identity_support import bearer, cheap, signed_up
from tests.support.github_oauth_server import GitHubOAuthServer
from tests.support.jwks_server import JwksServer, SigningKey, clerk_token

CLERK_ISSUER = "https://clerk.example.test"
CLERK_APP = "https://app.example.com"


@pytest.fixture
def github() -> Iterator[GitHubOAuthServer]:
    server = GitHubOAuthServer(client_id="Iv1.e2e", client_secret="e2e-client-secret")
    yield server
    server.close()


@pytest.fixture(scope="module")
def clerk_key() -> SigningKey:
    return SigningKey()


@pytest.fixture
def jwks(clerk_key: SigningKey) -> Iterator[JwksServer]:
    server = JwksServer(clerk_key)
    yield server
    server.close()


@pytest.fixture
def settings(backend_settings: Settings, github: GitHubOAuthServer, jwks: JwksServer) -> Settings:
    return cheap(
        backend_settings,
        github_client_id="Iv1.e2e",
        github_client_secret="e2e-client-secret",
        github_oauth_url=github.url,
        github_api_url=github.url,
        clerk_jwks_url=jwks.jwks_url,
        clerk_issuer=CLERK_ISSUER,
        clerk_authorized_parties=(CLERK_APP,),
    )


@pytest.fixture
async def api(client_factory: ClientFactory, settings: Settings) -> AsyncIterator[AsyncTestClient[Any]]:
    async with client_factory(settings) as client:
        yield client


def _query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


async def _start(api: AsyncTestClient[Any], headers: dict[str, str]) -> dict[str, str]:
    response = await api.post("/api/v1/users/github", headers=headers)
    assert response.status_code == 200, response.text
    return _query(response.json()["authorize_url"])


async def test_connecting_github_end_to_end(
    api: AsyncTestClient[Any], github: GitHubOAuthServer, settings: Settings
) -> None:
    ada = await signed_up(api, "ada@example.com")
    query = await _start(api, ada)
    assert query["client_id"] == "Iv1.e2e"
    assert query["redirect_uri"] == settings.public_base_url + "/api/v1/users/github/callback"
    assert query["code_challenge_method"] == "S256"
    code = github.approve(code_challenge=query["code_challenge"], redirect_uri=query["redirect_uri"])

    done = await api.post(
        "/api/v1/users/github/complete", json={"code": code, "state": query["state"]}, headers=ada
    )
    assert done.status_code == 200, done.text
    assert done.json()["login"] == "octocat"

    shown = await api.get("/api/v1/users/github", headers=ada)
    assert shown.status_code == 200
    assert set(shown.json()) == {"login", "github_user_id", "scopes", "connected_at", "updated_at"}
    [token] = github.issued_tokens
    assert token not in shown.text
    assert token not in done.text
    assert (await api.get("/api/v1/users/profile", headers=ada)).json()["github_login"] == "octocat"

    # The database holds no plaintext token.
    engine = create_engine(settings.database_url)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(sa.text("SELECT * FROM github_connections"))).all()
    finally:
        await engine.dispose()
    assert rows
    assert token not in repr(rows)

    assert (await api.delete("/api/v1/users/github", headers=ada)).status_code == 204
    assert (await api.delete("/api/v1/users/github", headers=ada)).status_code == 204
    gone = await api.get("/api/v1/users/github", headers=ada)
    assert gone.status_code == 404
    assert gone.json()["code"] == "github_not_connected"


async def test_a_state_is_single_use_and_bound_to_its_user(
    api: AsyncTestClient[Any], github: GitHubOAuthServer
) -> None:
    ada = await signed_up(api, "ada@example.com")
    bob = await signed_up(api, "bob@example.com")
    query = await _start(api, ada)
    code = github.approve(code_challenge=query["code_challenge"], redirect_uri=query["redirect_uri"])

    foreign = await api.post(
        "/api/v1/users/github/complete", json={"code": code, "state": query["state"]}, headers=bob
    )
    assert foreign.status_code == 400
    assert foreign.json()["code"] == "invalid_state"
    unknown = await api.post(
        "/api/v1/users/github/complete", json={"code": code, "state": "forged"}, headers=ada
    )
    assert unknown.json()["code"] == "invalid_state"

    ok = await api.post(
        "/api/v1/users/github/complete", json={"code": code, "state": query["state"]}, headers=ada
    )
    assert ok.status_code == 200
    again = await api.post(
        "/api/v1/users/github/complete", json={"code": code, "state": query["state"]}, headers=ada
    )
    assert again.status_code == 400
    assert again.json()["code"] == "invalid_state"
    assert (await api.get("/api/v1/users/github", headers=bob)).status_code == 404


async def test_a_github_outage_during_the_code_exchange_leaves_the_state_usable_for_a_retry(
    api: AsyncTestClient[Any], github: GitHubOAuthServer
) -> None:
    ada = await signed_up(api, "ada@example.com")
    query = await _start(api, ada)
    code = github.approve(code_challenge=query["code_challenge"], redirect_uri=query["redirect_uri"])
    github.outages = 1

    down = await api.post(
        "/api/v1/users/github/complete", json={"code": code, "state": query["state"]}, headers=ada
    )
    retry = await api.post(
        "/api/v1/users/github/complete", json={"code": code, "state": query["state"]}, headers=ada
    )

    assert down.status_code == 503
    assert retry.status_code == 200, retry.text
    assert retry.json()["login"] == "octocat"
    again = await api.post(
        "/api/v1/users/github/complete", json={"code": code, "state": query["state"]}, headers=ada
    )
    assert again.json()["code"] == "invalid_state"


async def test_a_code_github_refuses_gets_400(api: AsyncTestClient[Any]) -> None:
    ada = await signed_up(api, "ada@example.com")
    query = await _start(api, ada)
    response = await api.post(
        "/api/v1/users/github/complete", json={"code": "bogus", "state": query["state"]}, headers=ada
    )
    assert response.status_code == 400
    assert response.json()["code"] == "github_code_rejected"


async def test_the_callback_is_public_and_harmless(api: AsyncTestClient[Any]) -> None:
    response = await api.get("/api/v1/users/github/callback?code=abc&state=def")
    assert response.status_code == 200
    assert "abc" not in response.text


# Clerk


async def test_a_clerk_session_token_provisions_and_then_finds_a_local_user(
    api: AsyncTestClient[Any], clerk_key: SigningKey
) -> None:
    token = clerk_token(clerk_key, issuer=CLERK_ISSUER, azp=CLERK_APP, subject="user_e2e")
    first = await api.get("/api/v1/users/profile", headers=bearer(token))
    assert first.status_code == 200, first.text
    profile = first.json()
    assert profile["role"] == "user"
    assert profile["clerk_linked"] is True
    assert profile["email"].endswith("@clerk.invalid")
    again = await api.get("/api/v1/users/profile", headers=bearer(token))
    assert again.json()["id"] == profile["id"]


@pytest.mark.parametrize(
    "case", ["wrong_iss", "expired", "future_nbf", "bad_azp", "unknown_kid", "hs256_forged"]
)
async def test_bad_clerk_tokens_get_401(api: AsyncTestClient[Any], clerk_key: SigningKey, case: str) -> None:
    now = time.time()
    tokens = {
        "wrong_iss": lambda: clerk_token(clerk_key, issuer="https://evil.example", azp=CLERK_APP),
        "expired": lambda: clerk_token(clerk_key, issuer=CLERK_ISSUER, azp=CLERK_APP, now=now - 3600),
        "future_nbf": lambda: clerk_token(clerk_key, issuer=CLERK_ISSUER, azp=CLERK_APP, now=now + 3600),
        "bad_azp": lambda: clerk_token(clerk_key, issuer=CLERK_ISSUER, azp="https://evil.example"),
        "unknown_kid": lambda: clerk_token(
            clerk_key, issuer=CLERK_ISSUER, azp=CLERK_APP, headers={"kid": "nope"}
        ),
        "hs256_forged": lambda: _hs256_with_public_key(clerk_key),
    }
    response = await api.get("/api/v1/users/profile", headers=bearer(tokens[case]()))
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_a_jwks_outage_gets_401_not_500(
    api: AsyncTestClient[Any], clerk_key: SigningKey, jwks: JwksServer
) -> None:
    jwks.down = True
    response = await api.get(
        "/api/v1/users/profile", headers=bearer(clerk_token(clerk_key, issuer=CLERK_ISSUER, azp=CLERK_APP))
    )
    assert response.status_code == 401


def _hs256_with_public_key(key: SigningKey) -> str:
    import base64
    import hashlib
    import hmac
    import json

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).decode().rstrip("=")

    now = int(time.time())
    claims = {
        "iss": CLERK_ISSUER,
        "sub": "user_forged",
        "iat": now,
        "nbf": now,
        "exp": now + 60,
        "azp": CLERK_APP,
    }
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": key.kid}).encode())
    signing_input = head + "." + b64(json.dumps(claims).encode())
    return (
        signing_input + "." + b64(hmac.new(key.public_pem, signing_input.encode(), hashlib.sha256).digest())
    )
