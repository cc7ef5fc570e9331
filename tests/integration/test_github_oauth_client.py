"""The GitHub OAuth adapter against a local server speaking GitHub's OAuth and /user protocol."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from asynccoder.adapters.github.oauth_client import HttpxGitHubOAuth
from asynccoder.application.code_hosting.github_connection import pkce_challenge
from asynccoder.domain.errors import InvalidInput, Unavailable
from tests.support.github_oauth_server import GitHubOAuthServer

REDIRECT = "http://127.0.0.1:8000/api/v1/users/github/callback"
VERIFIER = "v" * 20 + "-verifier-" + "x" * 30


@pytest.fixture
def github() -> Iterator[GitHubOAuthServer]:
    server = GitHubOAuthServer(client_id="Iv1.test", client_secret="shh-client-secret")
    yield server
    server.close()


@pytest.fixture
async def client(github: GitHubOAuthServer) -> AsyncIterator[HttpxGitHubOAuth]:
    async with httpx.AsyncClient(timeout=5) as http:
        yield HttpxGitHubOAuth(
            oauth_url=github.url,
            api_url=github.url,
            client_id="Iv1.test",
            client_secret="shh-client-secret",
            scopes=["repo", "read:user"],
            http=http,
        )


def test_the_authorize_url_carries_client_state_scope_and_pkce(
    client: HttpxGitHubOAuth, github: GitHubOAuthServer
) -> None:
    url = client.authorize_url(state="st4te", code_challenge="ch4llenge", redirect_uri=REDIRECT)
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == github.url + "/login/oauth/authorize"
    assert query == {
        "client_id": "Iv1.test",
        "redirect_uri": REDIRECT,
        "scope": "repo read:user",
        "state": "st4te",
        "code_challenge": "ch4llenge",
        "code_challenge_method": "S256",
        "allow_signup": "false",
    }


async def test_a_code_is_exchanged_with_the_verifier_and_the_identity_read(
    client: HttpxGitHubOAuth, github: GitHubOAuthServer
) -> None:
    code = github.approve(code_challenge=pkce_challenge(VERIFIER), redirect_uri=REDIRECT)
    grant = await client.exchange_code(code=code, code_verifier=VERIFIER, redirect_uri=REDIRECT)
    assert grant.access_token in github.issued_tokens
    assert grant.scopes == ("repo", "read:user")
    identity = await client.identity(grant.access_token)
    assert (identity.github_user_id, identity.login) == (583231, "octocat")
    exchange = github.requests[0]
    assert exchange.headers["content-type"] == "application/x-www-form-urlencoded"
    assert exchange.headers["accept"] == "application/json"


async def test_a_wrong_verifier_is_rejected(client: HttpxGitHubOAuth, github: GitHubOAuthServer) -> None:
    code = github.approve(code_challenge=pkce_challenge(VERIFIER), redirect_uri=REDIRECT)
    with pytest.raises(InvalidInput) as info:
        await client.exchange_code(code=code, code_verifier="w" * 64, redirect_uri=REDIRECT)
    assert info.value.code == "github_code_rejected"


async def test_a_used_code_is_rejected(client: HttpxGitHubOAuth, github: GitHubOAuthServer) -> None:
    code = github.approve(code_challenge=pkce_challenge(VERIFIER), redirect_uri=REDIRECT)
    await client.exchange_code(code=code, code_verifier=VERIFIER, redirect_uri=REDIRECT)
    with pytest.raises(InvalidInput):
        await client.exchange_code(code=code, code_verifier=VERIFIER, redirect_uri=REDIRECT)


async def test_a_wrong_client_secret_is_rejected(github: GitHubOAuthServer) -> None:
    code = github.approve(code_challenge=pkce_challenge(VERIFIER), redirect_uri=REDIRECT)
    async with httpx.AsyncClient(timeout=5) as http:
        client = HttpxGitHubOAuth(
            oauth_url=github.url,
            api_url=github.url,
            client_id="Iv1.test",
            client_secret="wrong",
            scopes=[],
            http=http,
        )
        with pytest.raises(InvalidInput):
            await client.exchange_code(code=code, code_verifier=VERIFIER, redirect_uri=REDIRECT)


async def test_a_bad_token_on_user_is_rejected(client: HttpxGitHubOAuth) -> None:
    with pytest.raises(InvalidInput):
        await client.identity("gho_not_issued")


async def test_an_unreachable_github_is_unavailable() -> None:
    async with httpx.AsyncClient(timeout=1) as http:
        client = HttpxGitHubOAuth(
            oauth_url="http://127.0.0.1:1",
            api_url="http://127.0.0.1:1",
            client_id="a",
            client_secret="b",
            scopes=[],
            http=http,
        )
        with pytest.raises(Unavailable):
            await client.exchange_code(code="c", code_verifier=VERIFIER, redirect_uri=REDIRECT)
        with pytest.raises(Unavailable):
            await client.identity("gho_x")
