"""Every error is RFC 9457 problem+json with a stable code; nothing internal leaks."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import get, post
from litestar.params import JSONBody
from litestar.testing import AsyncTestClient

from asynccoder.domain.errors import Conflict, FieldProblem, InvalidInput, Unavailable
from tests.e2e.conftest import ClientFactory
from tests.support.app import make_settings


class Widget(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=10)]
    size: Annotated[int, msgspec.Meta(ge=1)]


@post("/widgets", opt={"public": True}, operation_id="test_widget_create")
async def create_widget(data: JSONBody[Widget]) -> Widget:
    if data.name == "taken":
        raise Conflict("That widget exists.", code="widget_exists")
    if data.name == "rule":
        raise InvalidInput("Bad widget.", problems=[FieldProblem("name", "breaks a rule")])
    return data


@get("/boom", opt={"public": True}, operation_id="test_boom")
async def boom() -> None:
    raise RuntimeError("secret internals: /srv/app.py SELECT * FROM users")


@get("/busy", opt={"public": True}, operation_id="test_busy")
async def busy() -> None:
    raise Unavailable("The service is busy; try again shortly.", code="database_busy", retry_after=1)


def settings() -> Any:
    return make_settings(max_request_body_bytes=1024)


async def _client(client_factory: ClientFactory) -> Any:
    return client_factory(settings(), extra_route_handlers=[create_widget, boom, busy])


def _assert_problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert {"type", "title", "detail"} <= body.keys()
    assert response.headers.get("x-request-id")
    return body


async def test_unknown_route_is_a_404_problem(client_factory: ClientFactory) -> None:
    async with await _client(client_factory) as client:
        _assert_problem(await client.get("/api/v1/nothing-here"), 404, "not_found")


async def test_wrong_method_is_a_405_problem(client_factory: ClientFactory) -> None:
    async with await _client(client_factory) as client:
        _assert_problem(await client.delete("/health/live"), 405, "method_not_allowed")


async def test_invalid_fields_are_listed_by_name(client_factory: ClientFactory) -> None:
    async with await _client(client_factory) as client:
        response = await client.post("/api/v1/widgets", json={"name": "", "size": 1})
    body = _assert_problem(response, 400, "validation_failed")
    assert body["errors"][0]["field"] == "name"


async def test_unknown_fields_are_rejected(client_factory: ClientFactory) -> None:
    async with await _client(client_factory) as client:
        response = await client.post("/api/v1/widgets", json={"name": "a", "size": 1, "role": "admin"})
    body = _assert_problem(response, 400, "validation_failed")
    assert body["errors"][0]["field"] == "role"
    assert "role" in body["errors"][0]["message"]


async def test_malformed_json_is_a_400_problem(client_factory: ClientFactory) -> None:
    async with await _client(client_factory) as client:
        response = await client.post(
            "/api/v1/widgets", content=b'{"name": ', headers={"content-type": "application/json"}
        )
    body = _assert_problem(response, 400, "bad_request")
    assert "Traceback" not in body["detail"]


async def test_an_oversized_body_is_a_413_problem(client_factory: ClientFactory) -> None:
    async with await _client(client_factory) as client:
        response = await client.post("/api/v1/widgets", json={"name": "a" * 5000, "size": 1})
    _assert_problem(response, 413, "body_too_large")


async def test_domain_errors_keep_their_code_and_field_list(client_factory: ClientFactory) -> None:
    async with await _client(client_factory) as client:
        conflict = await client.post("/api/v1/widgets", json={"name": "taken", "size": 1})
        invalid = await client.post("/api/v1/widgets", json={"name": "rule", "size": 1})
    _assert_problem(conflict, 409, "widget_exists")
    body = _assert_problem(invalid, 400, "validation_failed")
    assert body["errors"] == [{"field": "name", "message": "breaks a rule"}]


async def test_an_unexpected_error_is_a_generic_500_without_internals(client_factory: ClientFactory) -> None:
    async with await _client(client_factory) as client:
        response = await client.get("/api/v1/boom")
    _assert_problem(response, 500, "internal_error")
    assert "secret" not in response.text
    assert "SELECT" not in response.text


async def test_a_safe_caller_request_id_is_echoed_and_an_unsafe_one_replaced(
    client_factory: ClientFactory,
) -> None:
    async with await _client(client_factory) as client:
        kept = await client.get("/health/live", headers={"X-Request-ID": "abc-123"})
        replaced = await client.get("/health/live", headers={"X-Request-ID": "evil\nlog line"})
    assert kept.headers["x-request-id"] == "abc-123"
    assert replaced.headers["x-request-id"] not in {"", "evil\nlog line"}


async def test_a_client_with_the_default_app_gets_problem_json_for_unknown_api_paths(
    client: AsyncTestClient[Any],
) -> None:
    _assert_problem(await client.get("/api/v1/unknown"), 404, "not_found")


async def test_a_saturated_dependency_is_a_503_with_retry_after(client_factory: ClientFactory) -> None:
    async with await _client(client_factory) as client:
        response = await client.get("/api/v1/busy")
    _assert_problem(response, 503, "database_busy")
    assert response.headers["retry-after"] == "1"
