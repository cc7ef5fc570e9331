"""Browser hardening headers on every response; authenticated and API responses are never cached."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar.routes import HTTPRoute
from litestar.testing import AsyncTestClient

from asynccoder.ioc.settings import Settings
from tests.e2e.conftest import ClientFactory
from tests.e2e.identity_support import cheap, signed_up
from tests.support.app import make_settings
from tests.support.databases import Databases

ANY_ID = "01890000-0000-7000-8000-000000000000"


@pytest.fixture
async def api(client_factory: ClientFactory, databases: Databases) -> AsyncIterator[AsyncTestClient[Any]]:
    await databases.clean_engine("sqlite")
    async with client_factory(cheap(make_settings(database_url=databases.url("sqlite")))) as client:
        yield client


def _assert_hardened(response: Any, where: str) -> None:
    assert response.headers["x-content-type-options"] == "nosniff", where
    assert response.headers["referrer-policy"] == "no-referrer", where
    assert response.headers["x-frame-options"] == "DENY", where
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"], where


async def test_every_kind_of_response_carries_the_hardening_headers(api: AsyncTestClient[Any]) -> None:
    responses = {
        "live": await api.get("/health/live"),
        "unknown route": await api.get("/api/v1/nothing-here"),
        "anonymous 401": await api.get("/api/v1/users/profile"),
        "bad login": await api.post("/api/v1/auth/login", json={"email": "a@example.com", "password": "x"}),
        "openapi": await api.get("/schema/openapi.json"),
    }
    for where, response in responses.items():
        _assert_hardened(response, where)
        assert "strict-transport-security" not in response.headers, where
    api_csp = responses["live"].headers["content-security-policy"]
    assert api_csp == "default-src 'none'; frame-ancestors 'none'"


async def test_the_docs_ui_may_load_its_assets_but_not_be_framed(api: AsyncTestClient[Any]) -> None:
    for path in ("/schema", "/schema/swagger", "/schema/redoc"):
        response = await api.get(path)
        assert response.status_code == 200, path
        _assert_hardened(response, path)
        policy = response.headers["content-security-policy"]
        assert "default-src 'self'" in policy, path
        assert "frame-ancestors 'none'" in policy, path
        assert "http" not in policy, path  # nothing may come from another origin


async def test_every_authenticated_get_route_answers_no_store(api: AsyncTestClient[Any]) -> None:
    ada = await signed_up(api, "ada@example.com")
    checked = 0
    for route in api.app.routes:
        if not isinstance(route, HTTPRoute) or not route.path.startswith("/api/v1"):
            continue
        if "GET" not in route.methods or route.path.endswith("/events"):  # SSE: covered below
            continue
        parts = [ANY_ID if ":uuid" in p else p for p in route.path.split("/")]
        path = "/".join(parts).replace("{", "").replace("}", "").replace(":str", "x").replace(":int", "1")
        response = await api.get(path, headers=ada)
        assert response.headers["cache-control"] == "no-store", f"{path} {response.status_code}"
        _assert_hardened(response, path)
        checked += 1
    assert checked > 15
    stream = await api.get(f"/api/v1/tasks/{ANY_ID}/events", headers=ada)
    assert stream.headers["cache-control"] == "no-store"


async def test_a_credentialed_request_outside_the_api_is_not_cached_either(api: AsyncTestClient[Any]) -> None:
    response = await api.get("/health/live", headers={"Authorization": "Bearer whatever"})
    assert response.headers["cache-control"] == "no-store"


async def test_production_adds_hsts(client_factory: ClientFactory) -> None:
    settings: Settings = dataclasses.replace(make_settings(), environment="production")
    async with client_factory(settings) as client:
        response = await client.get("/health/live")
    assert response.headers["strict-transport-security"].startswith("max-age=")
