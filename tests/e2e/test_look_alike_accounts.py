"""Look-alike e-mail addresses over HTTP, on SQLite and PostgreSQL: one account per address, clear 400s."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from asynccoder.ioc.settings import Settings
from tests.e2e.conftest import ClientFactory
from tests.e2e.identity_support import PASSWORD, bearer, cheap, login, register

OTHER_PASSWORD = "a different long password"


@pytest.fixture
async def api(
    client_factory: ClientFactory, backend_settings: Settings
) -> AsyncIterator[AsyncTestClient[Any]]:
    async with client_factory(cheap(backend_settings)) as client:
        yield client


@pytest.mark.parametrize(
    "spelling",
    [
        "\uff21\uff24\uff21@example.com",
        "ada\uff20\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45\uff0e\uff43\uff4f\uff4d",
        "\U0001d41a\U0001d41d\U0001d41a@example.com",
        "Ada@Example.com.",
        " ada@EXAMPLE.COM",
    ],
)
async def test_a_look_alike_spelling_registers_no_second_account_and_signs_in_to_the_first(
    api: AsyncTestClient[Any], spelling: str
) -> None:
    await register(api, "ada@example.com")
    await register(api, spelling, password=OTHER_PASSWORD)  # same 202, nothing created

    refused = await api.post(
        "/api/v1/auth/login", json={"email": "ada@example.com", "password": OTHER_PASSWORD}
    )
    assert refused.status_code == 401
    tokens = await login(api, spelling)
    profile = await api.get("/api/v1/users/profile", headers=bearer(tokens["access_token"]))
    assert profile.json()["email"] == "ada@example.com"


@pytest.mark.parametrize(
    "bad",
    [
        "ada\u200b@example.com",
        "\u202eada@example.com",
        "\u0430da@example.com",
        "ada\U0001f600@example.com",
        "a@x..io",
        "ada@ex\u0430mple.com",
    ],
)
async def test_invisible_bidi_mixed_script_emoji_and_malformed_addresses_get_a_400_naming_the_field(
    api: AsyncTestClient[Any], bad: str
) -> None:
    response = await api.post("/api/v1/auth/register", json={"email": bad, "password": PASSWORD})
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["code"] == "validation_failed"
    assert [e["field"] for e in body["errors"]] == ["email"]
    assert bad not in response.text  # the refused address is not echoed back
