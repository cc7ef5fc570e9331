"""Canary secrets through register, login, PATs and GitHub connect never reach logs or responses."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from asynccoder.adapters.sqlalchemy.database import create_engine
from asynccoder.adapters.sqlalchemy.schema import metadata
from asynccoder.ioc.settings import Settings
from tests.e2e.conftest import ClientFactory
from tests.e2e.identity_support import bearer, cheap
from tests.support.github_oauth_server import GitHubOAuthServer


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    # The app binds its log handler to the stderr it finds (capsys's, closed after this test).
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


CANARY_PASSWORD = "CANARY-pw-7f3a9c1e-do-not-log"
CANARY_CLIENT_SECRET = "CANARY-ghsecret-52be0d"


async def test_no_canary_appears_in_logs_or_responses(
    client_factory: ClientFactory, backend_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    github = GitHubOAuthServer(client_id="Iv1.canary", client_secret=CANARY_CLIENT_SECRET)
    settings = cheap(
        backend_settings,
        log_level="DEBUG",
        github_client_id="Iv1.canary",
        github_client_secret=CANARY_CLIENT_SECRET,
        github_oauth_url=github.url,
        github_api_url=github.url,
    )
    bodies: list[str] = []
    secrets_shown_once: list[str] = []
    try:
        async with client_factory(settings) as api:

            async def call(method: str, url: str, **kwargs: Any) -> Any:
                response = await api.request(method, url, **kwargs)
                bodies.append(response.text + repr(dict(response.headers)))
                return response

            await call(
                "POST", "/api/v1/auth/register", json={"email": "c@example.com", "password": CANARY_PASSWORD}
            )
            await call(
                "POST", "/api/v1/auth/register", json={"email": "c@example.com", "password": CANARY_PASSWORD}
            )
            await call(
                "POST",
                "/api/v1/auth/login",
                json={"email": "c@example.com", "password": CANARY_PASSWORD + "x"},
            )
            await call("POST", "/api/v1/auth/register", json={"email": "bad", "password": CANARY_PASSWORD})
            login = (
                await api.post(
                    "/api/v1/auth/login", json={"email": "c@example.com", "password": CANARY_PASSWORD}
                )
            ).json()
            me = bearer(login["access_token"])
            refresh = login["refresh_token"]

            created = await api.post("/api/v1/auth/tokens", json={"name": "canary"}, headers=me)
            pat = created.json()["token"]
            secrets_shown_once.append(pat)
            await call("GET", "/api/v1/auth/tokens", headers=me)
            await call("GET", "/api/v1/users/profile", headers=bearer(pat))

            start = await call("POST", "/api/v1/users/github", headers=me)
            query = {k: v[0] for k, v in parse_qs(urlsplit(start.json()["authorize_url"]).query).items()}
            code = github.approve(code_challenge=query["code_challenge"], redirect_uri=query["redirect_uri"])
            await call(
                "POST",
                "/api/v1/users/github/complete",
                json={"code": code, "state": query["state"]},
                headers=me,
            )
            await call(
                "POST",
                "/api/v1/users/github/complete",
                json={"code": code, "state": query["state"]},
                headers=me,
            )
            await call("GET", "/api/v1/users/github", headers=me)
            await call("POST", "/api/v1/auth/refresh", json={"refresh_token": refresh})
            await call("POST", "/api/v1/auth/refresh", json={"refresh_token": refresh})
            await call("POST", "/api/v1/auth/logout", json={"refresh_token": refresh})
    finally:
        github.close()

    captured = capsys.readouterr()
    logs = captured.out + captured.err
    assert "request" in logs  # the access log did run at DEBUG, so the check below means something
    canaries = [CANARY_PASSWORD, CANARY_CLIENT_SECRET, refresh, *github.issued_tokens, *secrets_shown_once]
    assert github.issued_tokens
    for canary in canaries:
        assert canary not in logs, canary[:12]
        assert not any(canary in body for body in bodies), canary[:12]

    # A dump of every table holds none of them either (only digests and ciphertexts).
    dump = await _dump(settings.database_url)
    assert "c@example.com" in dump  # the dump did read the data
    for canary in canaries:
        assert canary not in dump, canary[:12]


async def _dump(url: str) -> str:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            rows = [repr((await conn.execute(table.select())).all()) for table in metadata.sorted_tables]
    finally:
        await engine.dispose()
    return "\n".join(rows)
