"""Model lifecycle over HTTP on SQLite and PostgreSQL, the app's clock fixed on either side of the dates."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from dishka import Provider as DishkaProvider
from dishka import Scope, provide
from litestar.testing import AsyncTestClient

from asynccoder.adapters.crypto.jwt_tokens import JwtAccessTokenService
from asynccoder.adapters.sqlalchemy.database import create_engine
from asynccoder.adapters.sqlalchemy.uow import SqlAlchemyUnitOfWork
from asynccoder.application.ports.ai import ChatModelFactory
from asynccoder.application.ports.system import Clock
from asynccoder.domain.identity import Role, User
from asynccoder.entrypoints.http.app import create_app
from asynccoder.ioc.settings import Settings
from tests.support.ai import pong_models
from tests.support.billing import grant_in_app
from tests.support.builders import make_user
from tests.support.system import ManualClock

BEFORE = datetime(2031, 2, 1, 12, 0, tzinfo=UTC)
RETIRED = datetime(2031, 6, 1, 0, 0, tzinfo=UTC)


def model_body(name: str, **lifecycle: object) -> dict[str, Any]:
    return {
        "provider": "anthropic",
        "model_name": name,
        "display_name": name.title(),
        "context_window": 200000,
        "max_output_tokens": 64000,
        "tier": "economy",  # the Free plan's tier: usable by everyone here unless retired
        "price": {
            "input_micro_usd_per_mtok": 1_000_000,
            "output_micro_usd_per_mtok": 5_000_000,
            "cache_read_micro_usd_per_mtok": 100_000,
            "cache_write_micro_usd_per_mtok": 1_250_000,
        },
        **lifecycle,
    }


class Harness:
    def __init__(self, client: AsyncTestClient[Any], settings: Settings, clock: ManualClock) -> None:
        self.client, self.settings, self.clock = client, settings, clock
        self.tokens = JwtAccessTokenService(
            secret=settings.jwt_secret,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            ttl=timedelta(minutes=15),
        )

    async def user(self, role: Role = Role.USER) -> User:
        user = make_user(role=role)
        engine = create_engine(self.settings.database_url)
        try:
            async with SqlAlchemyUnitOfWork(engine) as uow:
                await uow.users.add(user)
                await uow.commit()
        finally:
            await engine.dispose()
        return user

    def auth(self, user: User) -> dict[str, str]:
        """A token issued at the app's (fixed) now."""
        return {"Authorization": f"Bearer {self.tokens.issue(user, now=self.clock.now()).token}"}

    async def grant(self, user: User, credits: int) -> None:
        await grant_in_app(self.client.app, user.id, credits)

    async def create(self, admin: User, body: dict[str, Any]) -> dict[str, Any]:
        response = await self.client.post("/api/v1/admin/models", json=body, headers=self.auth(admin))
        assert response.status_code == 201, response.text
        return dict(response.json())


@pytest.fixture
async def harness(backend_settings: Settings) -> AsyncIterator[Harness]:
    clock = ManualClock(BEFORE)

    class FixedTime(DishkaProvider):
        @provide(scope=Scope.APP)
        def clock(self) -> Clock:
            return clock

        @provide(scope=Scope.APP)
        def chat_model_factory(self) -> ChatModelFactory:
            return pong_models()

    settings = dataclasses.replace(backend_settings, claude_api_key="sk-ant-PLATFORM-lifecycle-0000")
    app = create_app(settings, overrides=[FixedTime()])
    async with AsyncTestClient(app, base_url="http://testserver.local") as client:
        harness = Harness(client, settings, clock)
        admin = await harness.user(Role.ADMIN)
        response = await client.put(
            "/api/v1/admin/ai-providers/anthropic",
            json={"display_name": "Anthropic"},
            headers=harness.auth(admin),
        )
        assert response.status_code == 200, response.text
        yield harness


async def test_models_show_their_lifecycle_and_stop_being_usable_on_the_retirement_day(
    harness: Harness,
) -> None:
    admin, alice = await harness.user(Role.ADMIN), await harness.user()
    await harness.grant(alice, 100)  # a test on the platform key is paid
    successor = await harness.create(admin, model_body("opus-next"))
    old = await harness.create(
        admin,
        model_body(
            "opus-old",
            deprecated_on="2031-01-15",
            retires_on="2031-06-01",
            replacement_model_id=successor["id"],
        ),
    )
    assert (old["deprecated_on"], old["retires_on"], old["replacement_model_id"]) == (
        "2031-01-15",
        "2031-06-01",
        successor["id"],
    )
    listed = await harness.client.get("/api/v1/models", headers=harness.auth(alice))
    assert listed.status_code == 200
    items = {i["model_name"]: i for i in listed.json()["items"]}
    assert {n: (i["deprecated_on"], i["retires_on"], i["usable"]) for n, i in items.items()} == {
        "opus-old": ("2031-01-15", "2031-06-01", True),
        "opus-next": (None, None, True),
    }
    assert items["opus-old"]["replacement_model_id"] == successor["id"]

    harness.clock.set(RETIRED)
    one = await harness.client.get(f"/api/v1/models/{old['id']}", headers=harness.auth(alice))
    assert (one.json()["usable"], one.json()["unusable_reason"]) == (False, "model_retired")


async def test_requesting_a_retired_model_gets_422_with_the_suggested_replacement(harness: Harness) -> None:
    admin, alice = await harness.user(Role.ADMIN), await harness.user()
    await harness.grant(alice, 100)  # a test on the platform key is paid
    successor = await harness.create(admin, model_body("opus-next"))
    old = await harness.create(
        admin, model_body("opus-old", retires_on="2031-06-01", replacement_model_id=successor["id"])
    )
    before = await harness.client.post(
        "/api/v1/models/test", json={"model_id": old["id"]}, headers=harness.auth(alice)
    )
    assert (before.status_code, before.json()["ok"]) == (200, True)

    harness.clock.set(RETIRED)
    retired = await harness.client.post(
        "/api/v1/models/test", json={"model_id": old["id"]}, headers=harness.auth(alice)
    )
    assert retired.status_code == 422
    assert retired.headers["content-type"].startswith("application/problem+json")
    body = retired.json()
    assert (body["code"], body["status"], body["replacement_model_id"]) == (
        "model_retired",
        422,
        successor["id"],
    )
    assert body["type"].endswith("/model-retired")
    assert "2031-06-01" in body["detail"]


async def test_admins_edit_the_lifecycle_and_invalid_ones_are_refused(harness: Harness) -> None:
    admin = await harness.user(Role.ADMIN)
    headers = harness.auth(admin)
    model = await harness.create(
        admin, model_body("sonnet", deprecated_on="2031-03-01", retires_on="2031-06-01")
    )
    url = f"/api/v1/admin/models/{model['id']}"

    backwards = await harness.client.post(
        "/api/v1/admin/models",
        json=model_body("x", deprecated_on="2031-06-02", retires_on="2031-06-01"),
        headers=headers,
    )
    assert backwards.status_code == 400
    assert [e["field"] for e in backwards.json()["errors"]] == ["retires_on"]
    itself = await harness.client.patch(url, json={"replacement_model_id": model["id"]}, headers=headers)
    assert (itself.status_code, [e["field"] for e in itself.json()["errors"]]) == (
        400,
        ["replacement_model_id"],
    )
    retired = await harness.create(admin, model_body("retired", retires_on="2031-01-01"))
    to_retired = await harness.client.patch(
        url, json={"replacement_model_id": retired["id"]}, headers=headers
    )
    assert to_retired.status_code == 400

    renamed = await harness.client.patch(url, json={"display_name": "Sonnet"}, headers=headers)
    assert (renamed.status_code, renamed.json()["deprecated_on"], renamed.json()["retires_on"]) == (
        200,
        "2031-03-01",
        "2031-06-01",
    )
    cleared = await harness.client.patch(
        url, json={"deprecated_on": None, "retires_on": None}, headers=headers
    )
    assert (cleared.status_code, cleared.json()["deprecated_on"], cleared.json()["retires_on"]) == (
        200,
        None,
        None,
    )


async def test_the_openapi_document_describes_the_lifecycle_and_the_model_retired_problem(
    harness: Harness,
) -> None:
    document = (await harness.client.get("/schema/openapi.json")).json()
    schemas = document["components"]["schemas"]
    for name in ("ModelOut", "ModelCreateBody", "ModelUpdateBody"):
        assert {"deprecated_on", "retires_on", "replacement_model_id"} <= set(schemas[name]["properties"])
    unprocessable = document["paths"]["/api/v1/models/test"]["post"]["responses"]["422"]
    assert "`model_retired`" in unprocessable["description"]
    ref = unprocessable["content"]["application/problem+json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert "replacement_model_id" in schemas[ref]["properties"]
