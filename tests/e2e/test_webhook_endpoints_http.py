"""Webhook endpoints over HTTP: create (secret once), list, show, replace, delete, rotate, deliveries and
replay; another user's endpoint is 404; production refuses a loopback URL."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

import pytest
from litestar.testing import AsyncTestClient

from asynccoder.adapters.sqlalchemy.database import create_engine
from asynccoder.adapters.sqlalchemy.uow import SqlAlchemyUnitOfWork
from asynccoder.application.outbound_webhooks.outbox import publish
from asynccoder.domain.webhook_endpoints import WebhookEventType
from asynccoder.ioc.settings import Settings
from tests.e2e.conftest import ClientFactory
from tests.e2e.identity_support import cheap, signed_up
from tests.support.builders import T0

BASE = "/api/v1/webhook-endpoints"
URL = "http://127.0.0.1:8089/hooks"


@pytest.fixture
async def app(
    client_factory: ClientFactory, backend_settings: Settings
) -> AsyncIterator[AsyncTestClient[Any]]:
    async with client_factory(cheap(backend_settings)) as client:
        yield client


async def _create(client: AsyncTestClient[Any], headers: dict[str, str], **body: Any) -> dict[str, Any]:
    response = await client.post(BASE, json={"url": URL, **body}, headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def test_an_endpoint_is_created_with_its_secret_shown_once_then_listed_without_it(
    app: AsyncTestClient[Any],
) -> None:
    ada = await signed_up(app, "ada@example.com")
    response = await app.post(
        BASE, json={"url": URL, "event_types": ["task.succeeded", "task.failed"]}, headers=ada
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert response.headers["location"] == f"{BASE}/{created['id']}"
    assert response.headers["cache-control"] == "no-store"
    assert created["secret"].startswith("whsec_")
    assert (created["url"], created["event_types"], created["enabled"]) == (
        URL,
        ["task.succeeded", "task.failed"],
        True,
    )
    listed = (await app.get(BASE, headers=ada)).json()
    assert [item["id"] for item in listed["items"]] == [created["id"]]
    assert listed["next_cursor"] is None
    shown = (await app.get(f"{BASE}/{created['id']}", headers=ada)).json()
    for view in (listed["items"][0], shown):
        assert "secret" not in view
        assert created["secret"] not in str(view)


async def test_lists_are_paged_newest_first(app: AsyncTestClient[Any]) -> None:
    ada = await signed_up(app, "ada@example.com")
    ids = [(await _create(app, ada))["id"] for _ in range(3)]
    first = (await app.get(BASE, params={"limit": 2}, headers=ada)).json()
    rest = (await app.get(BASE, params={"limit": 2, "cursor": first["next_cursor"]}, headers=ada)).json()
    assert [i["id"] for i in first["items"] + rest["items"]] == list(reversed(ids))
    assert rest["next_cursor"] is None


async def test_replace_rotate_and_delete(app: AsyncTestClient[Any]) -> None:
    ada = await signed_up(app, "ada@example.com")
    created = await _create(app, ada)
    path = f"{BASE}/{created['id']}"
    replaced = await app.put(
        path,
        json={"url": "http://127.0.0.1:9000/new", "enabled": False, "credits_low_threshold": 250},
        headers=ada,
    )
    assert replaced.status_code == 200, replaced.text
    assert (replaced.json()["url"], replaced.json()["enabled"], replaced.json()["credits_low_threshold"]) == (
        "http://127.0.0.1:9000/new",
        False,
        250,
    )
    rotated = await app.post(f"{path}/rotate-secret", headers=ada)
    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["secret"].startswith("whsec_")
    assert rotated.json()["secret"] != created["secret"]
    assert rotated.json()["previous_secret_expires_at"] is not None
    assert (await app.delete(path, headers=ada)).status_code == 204
    assert (await app.get(path, headers=ada)).status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"url": URL, "role": "admin"},
        {"url": URL, "event_types": ["task.exploded"]},
        {"url": "ftp://127.0.0.1/x"},
        {"url": "http://hooks.example.com/in"},
        {"url": URL, "credits_low_threshold": 0},
    ],
)
async def test_invalid_bodies_are_400_and_create_nothing(
    app: AsyncTestClient[Any], body: dict[str, Any]
) -> None:
    ada = await signed_up(app, "ada@example.com")
    response = await app.post(BASE, json=body, headers=ada)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert (await app.get(BASE, headers=ada)).json()["items"] == []


async def test_another_users_endpoint_is_404_on_every_route_and_unchanged(
    app: AsyncTestClient[Any], backend_settings: Settings
) -> None:
    ada = await signed_up(app, "ada@example.com")
    bob = await signed_up(app, "bob@example.com")
    created = await _create(app, ada)
    path = f"{BASE}/{created['id']}"
    delivery_id = await _a_delivery(backend_settings, created["id"])
    attempts = [
        app.get(path, headers=bob),
        app.put(path, json={"url": "http://127.0.0.1:1/evil"}, headers=bob),
        app.delete(path, headers=bob),
        app.post(f"{path}/rotate-secret", headers=bob),
        app.get(f"{path}/deliveries", headers=bob),
        app.post(f"{path}/deliveries/{delivery_id}/replay", headers=bob),
    ]
    for attempt in attempts:
        response = await attempt
        assert response.status_code == 404, response.text
    assert (await app.get(BASE, headers=bob)).json()["items"] == []
    assert (await app.get(path, headers=ada)).json() == {k: v for k, v in created.items() if k != "secret"}


async def _a_delivery(settings: Settings, endpoint_id: str) -> str:
    """A ``credits.low``-free event for the endpoint's owner, written as a feature would write it."""
    engine = create_engine(settings.database_url)
    try:
        uow = SqlAlchemyUnitOfWork(engine)
        async with uow:
            endpoint = await uow.webhook_endpoints.get(UUID(endpoint_id))
            assert endpoint is not None
            event = await publish(
                uow, T0, endpoint.user_id, WebhookEventType.TASK_SUCCEEDED, {"object": "task"}, key="e2e"
            )
            assert event is not None
            [delivery] = await uow.webhook_outbox.list_for_endpoint(endpoint.id, limit=1, before=None)
            await uow.commit()
        return str(delivery.id)
    finally:
        await engine.dispose()


async def test_deliveries_are_listed_and_replayable(
    app: AsyncTestClient[Any], backend_settings: Settings
) -> None:
    ada = await signed_up(app, "ada@example.com")
    created = await _create(app, ada)
    delivery_id = await _a_delivery(backend_settings, created["id"])
    path = f"{BASE}/{created['id']}/deliveries"
    listing = await app.get(path, headers=ada)
    assert created["secret"] not in listing.text
    page = listing.json()
    assert [(d["id"], d["event_type"], d["status"], d["attempts"]) for d in page["items"]] == [
        (delivery_id, "task.succeeded", "pending", [])
    ]
    replayed = await app.post(f"{path}/{delivery_id}/replay", headers=ada)
    assert replayed.status_code == 202, replayed.text
    assert replayed.json()["event_id"] == page["items"][0]["event_id"]
    assert len((await app.get(path, headers=ada)).json()["items"]) == 2
    unknown = await app.post(f"{path}/{created['id']}/replay", headers=ada)
    assert unknown.status_code == 404


async def test_production_refuses_an_endpoint_on_loopback(
    client_factory: ClientFactory, backend_settings: Settings
) -> None:
    settings = dataclasses.replace(cheap(backend_settings), environment="production")
    async with client_factory(settings) as client:
        ada = await signed_up(client, "ada@example.com")
        for url in ("http://127.0.0.1:8089/hooks", "https://127.0.0.1/hooks", "https://localhost/hooks"):
            response = await client.post(BASE, json={"url": url}, headers=ada)
            assert response.status_code == 400, response.text
            assert response.json()["code"] == "invalid_webhook_url"
