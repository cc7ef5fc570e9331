"""Hostile JSON bodies are 400 problem+json on every JSON route and both databases; nothing is stored."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar import Litestar
from litestar.routes import HTTPRoute
from litestar.testing import AsyncTestClient

from asynccoder.application.identity.registration import EnsureAdminCommand
from asynccoder.ioc.commands import ensure_admin
from asynccoder.ioc.settings import Settings
from tests.e2e.conftest import ClientFactory
from tests.e2e.identity_support import PASSWORD, bearer, cheap, login

DEEP_ARRAY = b"[" * 1000 + b"]" * 1000
DEEP_OBJECT = b'{"a":' * 1000 + b"1" + b"}" * 1000
DEEP_IN_FIELD = b'{"email":' + b"[" * 1000 + b"]" * 1000 + b"}"
JSON = {"content-type": "application/json"}
ANY_ID = "01890000-0000-7000-8000-000000000000"


@pytest.fixture
def settings(backend_settings: Settings) -> Settings:
    return cheap(backend_settings)


@pytest.fixture
async def api(client_factory: ClientFactory, settings: Settings) -> AsyncIterator[AsyncTestClient[Any]]:
    async with client_factory(settings) as client:
        yield client


async def _admin(api: AsyncTestClient[Any], settings: Settings) -> dict[str, str]:
    await ensure_admin(settings, EnsureAdminCommand(email="root@example.com", password=PASSWORD))
    return bearer((await login(api, "root@example.com"))["access_token"])


def json_routes(app: Litestar) -> list[tuple[str, str]]:
    """(method, concrete path) of every handler that takes a JSON body (a ``data`` parameter)."""
    found = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            if "data" not in handler.parsed_fn_signature.parameters:
                continue
            parts = [ANY_ID if ":uuid" in p else p for p in route.path.split("/")]
            path = "/".join(parts).replace("{", "").replace("}", "").replace(":str", "x").replace(":int", "1")
            found.extend((method, path) for method in handler.http_methods)
    return found


def _assert_problem(response: Any, code: str, where: str) -> None:
    assert response.status_code == 400, f"{where}: {response.status_code} {response.text}"
    assert response.headers["content-type"] == "application/problem+json", where
    assert response.json()["code"] == code, where


async def test_the_json_route_list_covers_login_register_and_the_rest(api: AsyncTestClient[Any]) -> None:
    routes = json_routes(api.app)
    assert ("POST", "/api/v1/auth/login") in routes
    assert ("POST", "/api/v1/auth/register") in routes
    assert len(routes) > 20


@pytest.mark.parametrize("body", [DEEP_ARRAY, DEEP_OBJECT, DEEP_IN_FIELD], ids=["array", "object", "field"])
async def test_deeply_nested_json_is_refused_on_every_json_route(
    api: AsyncTestClient[Any], settings: Settings, body: bytes
) -> None:
    admin = await _admin(api, settings)  # passes every guard, so the body is what gets judged
    for method, path in json_routes(api.app):
        response = await api.request(method, path, content=body, headers={**JSON, **admin})
        _assert_problem(response, "invalid_json", f"{method} {path}")


async def test_moderately_nested_json_within_the_limit_is_judged_as_usual(api: AsyncTestClient[Any]) -> None:
    body = b'{"email": "a@example.com", "password": "x", "extra": ' + b"[" * 30 + b"]" * 30 + b"}"
    response = await api.post("/api/v1/auth/login", content=body, headers=JSON)
    assert response.status_code == 400
    assert response.json()["code"] == "validation_failed"


async def test_a_nul_character_in_any_text_field_is_refused_on_every_json_route(
    api: AsyncTestClient[Any], settings: Settings
) -> None:
    admin = await _admin(api, settings)
    for method, path in json_routes(api.app):
        for body in (b'{"name": "a\\u0000b"}', b'{"k\\u0000": 1}', b'["\\u0000"]'):
            response = await api.request(method, path, content=body, headers={**JSON, **admin})
            _assert_problem(response, "invalid_text", f"{method} {path} {body!r}")


async def test_an_escaped_backslash_before_u0000_is_ordinary_text(api: AsyncTestClient[Any]) -> None:
    body = b'{"email": "a\\\\u0000@example.com", "password": "wrong password here"}'
    response = await api.post("/api/v1/auth/login", content=body, headers=JSON)
    assert response.status_code == 401


async def test_registering_with_a_nul_stores_nothing_and_logs_no_sql_values(
    api: AsyncTestClient[Any], settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    attempts = [
        {"email": "nul\u0000canary@example.com", "password": PASSWORD},
        {"email": "plain-canary@example.com", "password": PASSWORD, "display_name": "Ada\u0000"},
        {"email": "pw-canary@example.com", "password": PASSWORD + "\u0000"},
    ]
    for attempt in attempts:
        response = await api.post("/api/v1/auth/register", json=attempt)
        _assert_problem(response, "invalid_text", str(attempt))
        if "display_name" not in attempt:
            login_response = await api.post("/api/v1/auth/login", json=attempt)
            _assert_problem(login_response, "invalid_text", f"login {attempt}")

    admin = await _admin(api, settings)
    users = (await api.get("/api/v1/admin/users", headers=admin)).json()["items"]
    assert [u["email"] for u in users] == ["root@example.com"]
    output = capsys.readouterr()
    assert "canary" not in output.out + output.err
    assert "unhandled_error" not in output.out + output.err
