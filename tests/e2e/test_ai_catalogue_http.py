"""Models, prices, own provider keys and usage over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest
import sqlalchemy as sa
from dishka import Provider as DishkaProvider
from dishka import Scope, provide
from litestar.testing import AsyncTestClient

from asynccoder.adapters.ai.scripted import ScriptedChatModelFactory
from asynccoder.adapters.crypto.jwt_tokens import JwtAccessTokenService
from asynccoder.adapters.sqlalchemy.ai_tables import api_keys
from asynccoder.adapters.sqlalchemy.database import create_engine
from asynccoder.adapters.sqlalchemy.uow import SqlAlchemyUnitOfWork
from asynccoder.adapters.system.clock import SystemClock
from asynccoder.application.ai.usage import (
    RecordModelUsage,
    RecordModelUsageInput,
)
from asynccoder.application.ports.ai import ChatModelFactory
from asynccoder.domain.ai import ProviderAuthError, Usage
from asynccoder.domain.ai_catalogue import CallOutcome, KeySource
from asynccoder.domain.identity import (
    Role,
    User,
)
from asynccoder.entrypoints.http.app import create_app
from asynccoder.ioc.settings import Settings
from tests.support.ai import pong_models
from tests.support.billing import grant_in_app
from tests.support.builders import make_user

CANARY = "sk-ant-api03-CANARY-e2e-7f3c9d1b"
PLATFORM_KEY = "sk-ant-PLATFORM-e2e-5a5a5a5a"
SONNET = {
    "provider": "anthropic",
    "model_name": "claude-sonnet-4-5-20250929",
    "display_name": "Claude Sonnet 4.5",
    "context_window": 200000,
    "max_output_tokens": 64000,
    "tier": "standard",
    "capabilities": ["tools", "streaming", "vision"],
    "default_modes": ["ask", "debug"],
    "price": {
        "input_micro_usd_per_mtok": 3_000_000,
        "output_micro_usd_per_mtok": 15_000_000,
        "cache_read_micro_usd_per_mtok": 300_000,
        "cache_write_micro_usd_per_mtok": 3_750_000,
    },
}


class Harness:
    def __init__(
        self, client: AsyncTestClient[Any], settings: Settings, factory: ScriptedChatModelFactory
    ) -> None:
        self.client, self.settings, self.factory = client, settings, factory
        self.tokens = JwtAccessTokenService(
            secret=settings.jwt_secret,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            ttl=timedelta(minutes=15),
        )

    async def user(self, role: Role = Role.USER) -> tuple[User, dict[str, str]]:
        user = make_user(role=role)
        await self.sql(lambda uow: uow.users.add(user))
        return user, self.auth(user)

    def auth(self, user: User) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens.issue(user, now=SystemClock().now()).token}"}

    async def sql(self, action: Any) -> Any:
        engine = create_engine(self.settings.database_url)
        try:
            async with SqlAlchemyUnitOfWork(engine) as uow:
                result = await action(uow)
                await uow.commit()
                return result
        finally:
            await engine.dispose()

    async def raw(self, statement: Any, **params: Any) -> list[Any]:
        engine = create_engine(self.settings.database_url)
        try:
            async with engine.begin() as conn:
                query = sa.text(statement) if isinstance(statement, str) else statement
                result = await conn.execute(query, params)
                return list(result) if result.returns_rows else []
        finally:
            await engine.dispose()

    async def catalogue(self, admin: dict[str, str], **changes: Any) -> str:
        response = await self.client.put(
            "/api/v1/admin/ai-providers/anthropic", json={"display_name": "Anthropic"}, headers=admin
        )
        assert response.status_code == 200, response.text
        response = await self.client.post("/api/v1/admin/models", json={**SONNET, **changes}, headers=admin)
        assert response.status_code == 201, response.text
        assert response.headers["location"] == f"/api/v1/models/{response.json()['id']}"
        return str(response.json()["id"])

    async def grant(self, user: User, credits: int) -> None:
        await grant_in_app(self.client.app, user.id, credits)

    async def record(self, user: User, model_id: str, tokens: int) -> int:
        container = self.client.app.state.dishka_container
        async with container() as request_container:
            record = await request_container.get(RecordModelUsage)
            result = await record(
                RecordModelUsageInput(
                    user_id=user.id,
                    model_id=UUID(model_id),
                    key_source=KeySource.PLATFORM,
                    answered_model="claude-sonnet-4-5-20250929",
                    usage=Usage(input_tokens=tokens),
                    latency_ms=700,
                    outcome=CallOutcome.OK,
                )
            )
        return result.cost_credits


@pytest.fixture
async def harness(backend_settings: Settings) -> AsyncIterator[Harness]:
    factory = pong_models()

    class FakeFactoryProvider(DishkaProvider):
        @provide(scope=Scope.APP)
        def chat_model_factory(self) -> ChatModelFactory:
            return factory

    settings = dataclasses.replace(backend_settings, claude_api_key=PLATFORM_KEY, log_level="DEBUG")
    app = create_app(settings, overrides=[FakeFactoryProvider()])
    async with AsyncTestClient(app, base_url="http://testserver.local") as client:
        yield Harness(client, settings, factory)


async def test_users_see_models_with_prices_and_whether_they_can_use_them(harness: Harness) -> None:
    _, admin = await harness.user(Role.ADMIN)
    _, alice = await harness.user()
    model_id = await harness.catalogue(admin)
    listed = await harness.client.get("/api/v1/models?provider=anthropic&capability=tools", headers=alice)
    assert listed.status_code == 200
    [item] = listed.json()["items"]
    # Alice has no subscription: the Free plan allows the economy tier only, and this model is standard.
    assert (
        item["id"],
        item["usable"],
        item["unusable_reason"],
        item["price"]["input_micro_usd_per_mtok"],
    ) == (
        model_id,
        False,
        "tier_not_allowed",
        3_000_000,
    )
    assert listed.json()["next_cursor"] is None
    one = await harness.client.get(f"/api/v1/models/{model_id}", headers=alice)
    assert one.status_code == 200
    assert one.json()["price"]["output_micro_usd_per_mtok"] == 15_000_000
    assert (await harness.client.get("/api/v1/models?tier=premium", headers=alice)).json()["items"] == []
    assert (await harness.client.get("/api/v1/models?tier=gold", headers=alice)).status_code == 400


async def test_a_model_test_reports_success_and_provider_failures_as_results(harness: Harness) -> None:
    _, admin = await harness.user(Role.ADMIN)
    alice_user, alice = await harness.user()
    model_id = await harness.catalogue(admin)
    test = {"model_id": model_id}
    refused = await harness.client.post("/api/v1/models/test", json=test, headers=alice)
    assert (refused.status_code, refused.json()["code"]) == (422, "tier_not_allowed")  # standard, on Free
    economy = {"tier": "economy"}
    assert (
        await harness.client.patch(f"/api/v1/admin/models/{model_id}", json=economy, headers=admin)
    ).is_success
    poor = await harness.client.post("/api/v1/models/test", json=test, headers=alice)
    assert (poor.status_code, poor.json()["code"]) == (402, "insufficient_credits")  # no free use of the key
    assert harness.factory.calls == []
    await harness.grant(alice_user, 100)
    ok = await harness.client.post("/api/v1/models/test", json=test, headers=alice)
    assert ok.status_code == 200
    assert ok.json()["ok"] is True
    assert ok.json()["charged_credits"] >= 1
    balance = (await harness.client.get("/api/v1/users/credits", headers=alice)).json()
    assert (balance["available_credits"], balance["held_credits"]) == (100 - ok.json()["charged_credits"], 0)
    assert ok.json()["model"] == "claude-sonnet-4-5-20250929"
    assert harness.factory.calls[-1].api_key == PLATFORM_KEY
    assert harness.factory.calls[-1].request.max_tokens <= 16
    harness.factory.behaviour = lambda ref, key: ProviderAuthError("invalid x-api-key", provider="anthropic")
    failed = await harness.client.post("/api/v1/models/test", json={"model_id": model_id}, headers=alice)
    assert failed.status_code == 200
    assert (failed.json()["ok"], failed.json()["error_code"]) == (False, "provider_auth_failed")
    own = await harness.client.post(
        "/api/v1/models/test", json={"model_id": model_id, "use_own_key": True}, headers=alice
    )
    assert (own.status_code, own.json()["code"]) == (422, "no_own_key")


async def test_a_provider_key_is_never_shown_logged_or_stored_in_plaintext(
    harness: Harness, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    _, admin = await harness.user(Role.ADMIN)
    _, alice = await harness.user()
    await harness.catalogue(admin)
    created = await harness.client.post(
        "/api/v1/api-keys",
        json={"provider": "anthropic", "key": CANARY, "label": "laptop", "validate": True},
        headers=alice,
    )
    assert created.status_code == 201, created.text
    key_id = created.json()["id"]
    assert created.headers["location"] == f"/api/v1/api-keys/{key_id}"
    assert created.json()["last4"] == CANARY[-4:]
    assert "sealed_key" not in created.json()
    responses = [
        created,
        await harness.client.get("/api/v1/api-keys", headers=alice),
        await harness.client.get(f"/api/v1/api-keys/{key_id}", headers=alice),
        await harness.client.put(
            f"/api/v1/api-keys/{key_id}", json={"monthly_cap_credits": 900}, headers=alice
        ),
        await harness.client.post(
            "/api/v1/api-keys", json={"provider": "anthropic", "key": CANARY}, headers=alice
        ),
        await harness.client.get("/schema/openapi.json"),
    ]
    assert responses[4].status_code == 409
    for response in responses:
        assert CANARY not in response.text
        assert "v1.k1." not in response.text
    [row] = await harness.raw("SELECT sealed_key FROM api_keys")
    assert CANARY not in row.sealed_key
    assert harness.factory.calls[-1].api_key == CANARY  # the validation call used it
    captured = capsys.readouterr()
    assert CANARY not in captured.out + captured.err
    assert "/api/v1/api-keys" in caplog.text  # the access log lines were captured
    assert CANARY not in caplog.text


async def test_a_key_the_provider_rejects_on_save_is_refused_and_not_stored(harness: Harness) -> None:
    _, admin = await harness.user(Role.ADMIN)
    _, alice = await harness.user()
    await harness.catalogue(admin)
    harness.factory.behaviour = lambda ref, key: ProviderAuthError("invalid x-api-key", provider="anthropic")
    response = await harness.client.post(
        "/api/v1/api-keys", json={"provider": "anthropic", "key": CANARY, "validate": True}, headers=alice
    )
    assert (response.status_code, response.json()["code"]) == (422, "api_key_invalid")
    assert CANARY not in response.text
    assert await harness.raw("SELECT id FROM api_keys") == []


async def test_another_users_key_is_not_found_and_left_unchanged(harness: Harness) -> None:
    _, alice = await harness.user()
    _, bob = await harness.user()
    created = await harness.client.post(
        "/api/v1/api-keys", json={"provider": "openai", "key": "sk-proj-alice-0000-1111"}, headers=alice
    )
    key_id = created.json()["id"]
    url = f"/api/v1/api-keys/{key_id}"
    assert (await harness.client.get(url, headers=bob)).status_code == 404
    assert (await harness.client.put(url, json={"label": "bob's now"}, headers=bob)).status_code == 404
    assert (await harness.client.delete(url, headers=bob)).status_code == 404
    assert (await harness.client.get("/api/v1/api-keys", headers=bob)).json()["items"] == []
    mine = await harness.client.get(url, headers=alice)
    assert (mine.status_code, mine.json()["label"]) == (200, "")
    assert (await harness.client.delete(url, headers=alice)).status_code == 204
    assert (await harness.client.get(url, headers=alice)).status_code == 404


@pytest.mark.parametrize(
    ("method", "body"),
    [
        (
            "post",
            {
                "provider": "openai",
                "key": "sk-proj-xxxx-yyyy",
                "user_id": "0193a000-0000-7000-8000-000000000001",
            },
        ),
        ("post", {"provider": "openai", "key": "sk-proj-xxxx-yyyy", "sealed_key": "v1.k1.AAAA"}),
        ("put", {"label": "x", "user_id": "0193a000-0000-7000-8000-000000000001"}),
        ("put", {"sealed_key": "v1.k1.AAAA"}),
    ],
)
async def test_unknown_or_privileged_fields_are_rejected_and_change_nothing(
    harness: Harness, method: str, body: dict[str, Any]
) -> None:
    _, alice = await harness.user()
    created = await harness.client.post(
        "/api/v1/api-keys", json={"provider": "gemini", "key": "AIza-alice-key-1234"}, headers=alice
    )
    url = "/api/v1/api-keys" if method == "post" else f"/api/v1/api-keys/{created.json()['id']}"
    response = await getattr(harness.client, method)(url, json=body, headers=alice)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    [row] = await harness.raw("SELECT label, last4 FROM api_keys")
    assert (row.label, row.last4) == ("", "1234")


async def test_a_ciphertext_copied_into_another_users_row_fails_to_decrypt(harness: Harness) -> None:
    _, admin = await harness.user(Role.ADMIN)
    alice_user, alice = await harness.user()
    bob_user, bob = await harness.user()
    model_id = await harness.catalogue(admin, tier="economy")  # a tier the Free plan includes
    await harness.client.post(
        "/api/v1/api-keys", json={"provider": "anthropic", "key": CANARY}, headers=alice
    )
    await harness.client.post(
        "/api/v1/api-keys", json={"provider": "anthropic", "key": "sk-ant-bob-0000-9999"}, headers=bob
    )
    [alice_row] = await harness.raw(
        sa.select(api_keys.c.sealed_key).where(api_keys.c.user_id == alice_user.id)
    )
    await harness.raw(
        api_keys.update().where(api_keys.c.user_id == bob_user.id).values(sealed_key=alice_row.sealed_key)
    )
    response = await harness.client.post(
        "/api/v1/models/test", json={"model_id": model_id, "use_own_key": True}, headers=bob
    )
    assert (response.status_code, response.json()["code"]) == (422, "api_key_unreadable")
    assert all(call.api_key != CANARY for call in harness.factory.calls)


async def test_a_price_change_does_not_alter_what_past_usage_cost(harness: Harness) -> None:
    _, admin = await harness.user(Role.ADMIN)
    alice_user, alice = await harness.user()
    model_id = await harness.catalogue(admin)
    assert await harness.record(alice_user, model_id, 1_000_000) == 3000  # $3
    new_price = {**SONNET["price"], "input_micro_usd_per_mtok": 6_000_000}  # type: ignore[dict-item]
    response = await harness.client.post(
        f"/api/v1/admin/models/{model_id}/prices", json=new_price, headers=admin
    )
    assert response.status_code == 201, response.text
    assert await harness.record(alice_user, model_id, 1_000_000) == 6000
    history = await harness.client.get(f"/api/v1/admin/models/{model_id}/prices", headers=admin)
    assert [p["input_micro_usd_per_mtok"] for p in history.json()["items"]] == [3_000_000, 6_000_000]
    backdated = await harness.client.post(
        f"/api/v1/admin/models/{model_id}/prices",
        json={**new_price, "effective_from": "2020-01-01T00:00:00Z"},
        headers=admin,
    )
    assert (backdated.status_code, backdated.json()["code"]) == (422, "price_backdated")
    today = SystemClock().now().date().isoformat()
    mine = await harness.client.get(f"/api/v1/users/usage?from={today}&to={today}", headers=alice)
    assert mine.status_code == 200, mine.text
    [row] = mine.json()["items"]
    assert (row["calls"], row["cost_credits"], row["charged_credits"]) == (2, 9000, 9000)
    stats = await harness.client.get(f"/api/v1/admin/usage/models?from={today}&to={today}", headers=admin)
    [stat] = stats.json()["items"]
    assert (stat["calls"], stat["cost_credits"], stat["latency_p50_ms"]) == (2, 9000, 1000)
    assert (
        await harness.client.get(f"/api/v1/admin/usage/models?from={today}&to={today}", headers=alice)
    ).status_code == 403
    deleting = await harness.client.delete(f"/api/v1/admin/models/{model_id}", headers=admin)
    assert (deleting.status_code, deleting.json()["code"]) == (409, "model_in_use")


async def test_admins_disable_models_and_users_then_no_longer_see_them(harness: Harness) -> None:
    _, admin = await harness.user(Role.ADMIN)
    _, alice = await harness.user()
    model_id = await harness.catalogue(admin)
    assert (await harness.client.post("/api/v1/admin/models", json=SONNET, headers=alice)).status_code == 403
    patched = await harness.client.patch(
        f"/api/v1/admin/models/{model_id}", json={"enabled": False}, headers=admin
    )
    assert (patched.status_code, patched.json()["enabled"]) == (200, False)
    assert (await harness.client.get(f"/api/v1/models/{model_id}", headers=alice)).status_code == 404
    assert (await harness.client.get("/api/v1/models?include_disabled=true", headers=alice)).json()[
        "items"
    ] == []
    listed = await harness.client.get("/api/v1/models?include_disabled=true", headers=admin)
    assert [m["id"] for m in listed.json()["items"]] == [model_id]
    assert (await harness.client.delete(f"/api/v1/admin/models/{model_id}", headers=admin)).status_code == 204


async def test_key_lists_page_newest_first_with_bounded_page_sizes(harness: Harness) -> None:
    _, alice = await harness.user()
    ids = []
    for provider, key in [
        ("anthropic", "sk-ant-aaaa-0001"),
        ("openai", "sk-proj-bbbb-0002"),
        ("gemini", "AIza-cccc-0003"),
    ]:
        response = await harness.client.post(
            "/api/v1/api-keys", json={"provider": provider, "key": key}, headers=alice
        )
        ids.append(response.json()["id"])
    first = await harness.client.get("/api/v1/api-keys?limit=2", headers=alice)
    assert [k["id"] for k in first.json()["items"]] == [ids[2], ids[1]]
    rest = await harness.client.get(
        f"/api/v1/api-keys?limit=2&cursor={first.json()['next_cursor']}", headers=alice
    )
    assert [k["id"] for k in rest.json()["items"]] == [ids[0]]
    assert rest.json()["next_cursor"] is None
    for query in ("limit=0", "limit=101", "cursor=not-a-cursor"):
        assert (await harness.client.get(f"/api/v1/api-keys?{query}", headers=alice)).status_code == 400
