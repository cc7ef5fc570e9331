"""CORS: only the origins in CORS_ALLOWED_ORIGINS may call the API from a browser; credentials if set."""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import ClientFactory
from tests.support.app import make_settings

APP_ORIGIN = "https://app.example.com"
OTHER_ORIGIN = "https://evil.example.net"
TASKS = "/api/v1/tasks"


def preflight_headers(origin: str, method: str = "POST", headers: str = "authorization, content-type") -> Any:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": headers,
    }


async def test_without_configured_origins_no_response_allows_any_origin(
    client_factory: ClientFactory,
) -> None:
    async with client_factory(make_settings()) as client:
        preflight = await client.options(TASKS, headers=preflight_headers(APP_ORIGIN))
        simple = await client.get("/health/live", headers={"Origin": APP_ORIGIN})

    assert "access-control-allow-origin" not in preflight.headers
    assert "access-control-allow-methods" not in preflight.headers
    assert simple.status_code == 200
    assert "access-control-allow-origin" not in simple.headers


async def test_a_preflight_from_an_allowed_origin_is_answered_even_on_a_guarded_route(
    client_factory: ClientFactory,
) -> None:
    settings = make_settings(cors_allowed_origins=(APP_ORIGIN, "http://localhost:5173"))
    async with client_factory(settings) as client:
        response = await client.options(TASKS, headers=preflight_headers(APP_ORIGIN))

    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == APP_ORIGIN
    assert "POST" in response.headers["access-control-allow-methods"]
    allowed_headers = {h.strip() for h in response.headers["access-control-allow-headers"].split(",")}
    assert {"authorization", "content-type", "idempotency-key", "last-event-id"} <= allowed_headers
    assert response.headers["vary"] == "Origin"
    assert "access-control-allow-credentials" not in response.headers


async def test_a_preflight_from_another_origin_is_refused(client_factory: ClientFactory) -> None:
    async with client_factory(make_settings(cors_allowed_origins=(APP_ORIGIN,))) as client:
        response = await client.options(TASKS, headers=preflight_headers(OTHER_ORIGIN))

    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers


async def test_a_preflight_asking_for_an_unlisted_header_or_method_is_refused(
    client_factory: ClientFactory,
) -> None:
    async with client_factory(make_settings(cors_allowed_origins=(APP_ORIGIN,))) as client:
        header = await client.options(TASKS, headers=preflight_headers(APP_ORIGIN, headers="x-evil"))
        method = await client.options(TASKS, headers=preflight_headers(APP_ORIGIN, method="TRACE"))

    assert header.status_code == 400
    assert method.status_code == 400


async def test_responses_name_the_allowed_origin_only_and_expose_the_useful_headers(
    client_factory: ClientFactory,
) -> None:
    async with client_factory(make_settings(cors_allowed_origins=(APP_ORIGIN,))) as client:
        allowed = await client.get("/health/live", headers={"Origin": APP_ORIGIN})
        other = await client.get("/health/live", headers={"Origin": OTHER_ORIGIN})
        unauthenticated = await client.get(TASKS, headers={"Origin": APP_ORIGIN})

    assert allowed.headers["access-control-allow-origin"] == APP_ORIGIN
    assert allowed.headers["vary"] == "Origin"
    exposed = {h.strip() for h in allowed.headers["access-control-expose-headers"].split(",")}
    assert {"location", "retry-after", "x-request-id"} <= exposed
    assert "access-control-allow-credentials" not in allowed.headers
    assert "access-control-allow-origin" not in other.headers
    # Error responses carry the header too, so the browser lets the app read the problem body.
    assert unauthenticated.status_code == 401
    assert unauthenticated.headers["access-control-allow-origin"] == APP_ORIGIN


async def test_credentials_are_allowed_only_when_the_setting_says_so(client_factory: ClientFactory) -> None:
    settings = make_settings(cors_allowed_origins=(APP_ORIGIN,), cors_allow_credentials=True)
    async with client_factory(settings) as client:
        preflight = await client.options(TASKS, headers=preflight_headers(APP_ORIGIN))
        simple = await client.get("/health/live", headers={"Origin": APP_ORIGIN})

    assert preflight.headers["access-control-allow-credentials"] == "true"
    assert simple.headers["access-control-allow-credentials"] == "true"
    assert simple.headers["access-control-allow-origin"] == APP_ORIGIN
