"""Billing through the whole app: Stripe checkout via the SDK against a local Stripe, signed webhooks,
credits, the ledger, subscriptions and the admin endpoints."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from litestar.testing import AsyncTestClient

from asynccoder.adapters.crypto.jwt_tokens import JwtAccessTokenService
from asynccoder.adapters.sqlalchemy.database import create_engine
from asynccoder.adapters.sqlalchemy.uow import SqlAlchemyUnitOfWork
from asynccoder.adapters.system.clock import SystemClock
from asynccoder.adapters.system.ids import Uuid7Generator
from asynccoder.application.billing.credits import (
    GrantCredits,
    GrantCreditsInput,
    ReserveCredits,
    ReserveCreditsInput,
)
from asynccoder.domain.identity import (
    Role,
    User,
)
from asynccoder.ioc.settings import Settings
from tests.e2e.conftest import ClientFactory
from tests.support.app import make_settings
from tests.support.billing import (
    PERIOD,
    PERIOD_START,
    PRO,
    STARTER,
    WEBHOOK_SECRET,
    charge_refunded,
    checkout_completed,
    event,
    invoice_object,
    seed_catalogue,
    signature,
    subscription_object,
)
from tests.support.builders import make_user
from tests.support.databases import Databases
from tests.support.stripe_server import API_KEY, StripeState, running_stripe_server

WEBHOOK = "/api/v1/webhooks/stripe"
ids = Uuid7Generator()
clock = SystemClock()


@dataclasses.dataclass
class Billing:
    client: AsyncTestClient[Any]
    settings: Settings
    stripe: StripeState
    engine: Any

    def uow(self) -> SqlAlchemyUnitOfWork:
        return SqlAlchemyUnitOfWork(self.engine)

    async def user(self, *, role: Role = Role.USER, credits: int = 0) -> tuple[User, dict[str, str]]:
        user = make_user(id=ids.new_id(), role=role)
        async with self.uow() as uow:
            await uow.users.add(user)
            await uow.commit()
        if credits:
            await GrantCredits(self.uow(), clock, ids)(GrantCreditsInput(user.id, credits, f"seed:{user.id}"))
        service = JwtAccessTokenService(
            secret=self.settings.jwt_secret,
            issuer=self.settings.jwt_issuer,
            audience=self.settings.jwt_audience,
            ttl=timedelta(minutes=15),
        )
        return user, {"Authorization": f"Bearer {service.issue(user, now=clock.now()).token}"}

    async def balance(self, user: User) -> tuple[int, int]:
        async with self.uow() as uow:
            account = await uow.credits.get_account(user.id)
            assert await uow.credits.sum_entries(user.id) == (account.available, account.held)
            return account.available, account.held

    async def events_stored(self) -> int:
        async with self.engine.connect() as conn:
            return int(await conn.scalar(sa.text("SELECT count(*) FROM stripe_events")))

    async def deliver(self, payload: bytes, header: str | None = None) -> Any:
        headers = {"Content-Type": "application/json", "Stripe-Signature": header or signature(payload)}
        return await self.client.post(WEBHOOK, content=payload, headers=headers)


@pytest.fixture
def stripe_server() -> Iterator[tuple[str, StripeState]]:
    with running_stripe_server() as server:
        yield server


@pytest.fixture(params=["sqlite"])
async def billing_settings(request: pytest.FixtureRequest, databases: Databases) -> Settings:
    """SQLite by default (fast); tests that matter on both databases parametrize it with ``BOTH``."""
    await databases.clean_engine(request.param)
    return make_settings(database_url=databases.url(request.param))


BOTH = pytest.mark.parametrize("billing_settings", ["sqlite", "postgres"], indirect=True)


@pytest.fixture
async def billing(
    client_factory: ClientFactory, billing_settings: Settings, stripe_server: tuple[str, StripeState]
) -> AsyncIterator[Billing]:
    settings = dataclasses.replace(
        billing_settings,
        stripe_secret_key=API_KEY,
        stripe_webhook_secret=WEBHOOK_SECRET,
        stripe_api_base=stripe_server[0],
    )
    engine = create_engine(settings.database_url)
    await seed_catalogue(lambda: SqlAlchemyUnitOfWork(engine))
    try:
        async with client_factory(settings) as client:
            yield Billing(client, settings, stripe_server[1], engine)
    finally:
        await engine.dispose()


# --- catalogue and balance ---------------------------------------------------------------------------


async def test_plans_and_packages_are_public(billing: Billing) -> None:
    plans = (await billing.client.get("/api/v1/billing/plans")).json()["items"]
    packages = (await billing.client.get("/api/v1/billing/packages")).json()["items"]
    assert [p["code"] for p in plans] == ["free", "pro", "enterprise"]
    assert plans[1]["allowed_tiers"] == ["economy", "standard", "premium"]
    assert [p["credits"] for p in packages] == [5_000, 22_000, 60_000]


@BOTH
async def test_credits_show_available_held_and_recent_entries(billing: Billing) -> None:
    user, auth = await billing.user(credits=300)
    await ReserveCredits(billing.uow(), clock, ids)(ReserveCreditsInput(user.id, 100, "task:1"))
    body = (await billing.client.get("/api/v1/users/credits", headers=auth)).json()
    assert (body["available_credits"], body["held_credits"]) == (200, 100)
    assert [e["kind"] for e in body["recent_entries"]] == ["hold", "grant"]


# --- checkout ----------------------------------------------------------------------------------------


@BOTH
async def test_a_package_checkout_returns_a_stripe_url_and_grants_nothing_yet(billing: Billing) -> None:
    user, auth = await billing.user()
    response = await billing.client.post(
        "/api/v1/billing/checkout", json={"package_id": str(STARTER.id)}, headers=auth
    )
    assert response.status_code == 200
    assert response.json()["url"].startswith("https://checkout.stripe.com/")
    customer_call = next(r for r in billing.stripe.requests if r.path == "/v1/customers")
    assert customer_call.headers["idempotency-key"] == f"customer:{user.id}"
    assert await billing.balance(user) == (0, 0)


async def test_checkout_with_the_same_idempotency_key_returns_the_same_session(billing: Billing) -> None:
    _, auth = await billing.user()
    headers = {**auth, "Idempotency-Key": "order-1"}
    first = await billing.client.post(
        "/api/v1/billing/checkout", json={"package_id": str(STARTER.id)}, headers=headers
    )
    again = await billing.client.post(
        "/api/v1/billing/checkout", json={"package_id": str(STARTER.id)}, headers=headers
    )
    other = await billing.client.post(
        "/api/v1/billing/checkout", json={"plan_id": str(PRO.id)}, headers=headers
    )
    assert first.json() == again.json()
    assert other.status_code == 409
    assert other.json()["code"] == "idempotency_key_reused"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({}, 400),
        ({"package_id": str(STARTER.id), "plan_id": str(PRO.id)}, 400),
        ({"package_id": str(STARTER.id), "credits": 1_000_000}, 400),
        ({"package_id": "01890000-0000-7000-8000-000000000000"}, 404),
    ],
    ids=["neither", "both", "privileged-field", "unknown-package"],
)
async def test_bad_checkout_requests_are_refused(billing: Billing, body: dict[str, Any], status: int) -> None:
    _, auth = await billing.user()
    response = await billing.client.post("/api/v1/billing/checkout", json=body, headers=auth)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"


async def test_a_plan_checkout_opens_a_subscription_and_the_portal_opens(billing: Billing) -> None:
    _, auth = await billing.user()
    response = await billing.client.post(
        "/api/v1/billing/checkout", json={"plan_id": str(PRO.id)}, headers=auth
    )
    portal = await billing.client.post("/api/v1/billing/portal", headers=auth)
    session_call = next(r for r in billing.stripe.requests if r.path == "/v1/checkout/sessions")
    assert response.status_code == 200
    assert session_call.params["mode"] == "subscription"
    assert portal.json()["url"].startswith("https://billing.stripe.com/")


async def test_invoices_come_from_stripe_for_the_callers_customer_only(billing: Billing) -> None:
    _, auth_a = await billing.user()
    _, auth_b = await billing.user()
    await billing.client.post("/api/v1/billing/portal", headers=auth_a)  # creates A's customer
    customer = next(iter(billing.stripe.customers))
    billing.stripe.add_invoice(customer)
    mine = (await billing.client.get("/api/v1/billing/invoices", headers=auth_a)).json()
    theirs = (await billing.client.get("/api/v1/billing/invoices", headers=auth_b)).json()
    assert len(mine["items"]) == 1
    assert theirs == {"items": [], "next_cursor": None}


# --- webhooks ----------------------------------------------------------------------------------------


async def test_a_paid_checkout_webhook_grants_the_package_once(billing: Billing) -> None:
    user, _ = await billing.user()
    payload = event(
        "evt_pay", "checkout.session.completed", checkout_completed("cs_1", str(user.id), str(STARTER.id))
    )
    first = await billing.deliver(payload)
    second = await billing.deliver(payload)
    assert (first.status_code, second.status_code) == (200, 200)
    assert second.json()["duplicate"] is True
    assert await billing.balance(user) == (STARTER.credits, 0)


async def test_the_same_session_in_two_events_grants_once(billing: Billing) -> None:
    user, _ = await billing.user()
    obj = checkout_completed("cs_same", str(user.id), str(STARTER.id))
    await billing.deliver(event("evt_a", "checkout.session.completed", obj))
    await billing.deliver(event("evt_b", "checkout.session.async_payment_succeeded", obj))
    assert await billing.balance(user) == (STARTER.credits, 0)


async def test_an_unpaid_checkout_grants_nothing(billing: Billing) -> None:
    user, _ = await billing.user()
    obj = checkout_completed("cs_unpaid", str(user.id), str(STARTER.id), paid=False)
    assert (await billing.deliver(event("evt_unpaid", "checkout.session.completed", obj))).status_code == 200
    assert await billing.balance(user) == (0, 0)


@BOTH
async def test_ten_concurrent_deliveries_all_get_2xx_and_have_one_effect(billing: Billing) -> None:
    user, _ = await billing.user()
    payload = event(
        "evt_10", "checkout.session.completed", checkout_completed("cs_10", str(user.id), str(STARTER.id))
    )
    responses = await asyncio.gather(*(billing.deliver(payload) for _ in range(10)))
    assert {r.status_code for r in responses} == {200}
    assert await billing.balance(user) == (STARTER.credits, 0)


def _tamper_one_byte(payload: bytes) -> tuple[bytes, str]:
    return payload.replace(b'"paid"', b'"paiD"'), signature(payload)


def _reserialise(payload: bytes) -> tuple[bytes, str]:
    return json.dumps(json.loads(payload), indent=1).encode(), signature(payload)


@pytest.mark.parametrize(
    "forge",
    [
        _tamper_one_byte,
        _reserialise,
        lambda p: (p, ""),
        lambda p: (p, signature(p, timestamp=int(time.time()) - 301)),
        lambda p: (p, signature(p, secret="whsec_attacker")),
        lambda p: (p, "t=abc,v1=zz"),
    ],
    ids=["one-byte-changed", "re-serialised", "missing-header", "too-old", "wrong-secret", "garbage"],
)
async def test_webhooks_that_do_not_verify_get_400_and_write_nothing(billing: Billing, forge: Any) -> None:
    user, _ = await billing.user()
    payload = event(
        "evt_forged", "checkout.session.completed", checkout_completed("cs_f", str(user.id), str(STARTER.id))
    )
    body, header = forge(payload)
    headers = {"Content-Type": "application/json"}
    if header:
        headers["Stripe-Signature"] = header
    response = await billing.client.post(WEBHOOK, content=body, headers=headers)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_signature"
    assert await billing.events_stored() == 0
    assert await billing.balance(user) == (0, 0)


async def test_unknown_event_types_are_acknowledged_and_ignored(billing: Billing) -> None:
    response = await billing.deliver(event("evt_unknown", "customer.tax_id.created", {"id": "txi_1"}))
    assert response.status_code == 200


@BOTH
async def test_subscription_events_out_of_order_never_revive_a_deleted_subscription(billing: Billing) -> None:
    user, auth = await billing.user()
    uid, plan = str(user.id), str(PRO.id)
    t = int(time.time()) - 100
    await billing.deliver(
        event(
            "evt_s1",
            "customer.subscription.created",
            subscription_object("sub_1", uid, plan, "active"),
            created=t,
        )
    )
    ent = (await billing.client.get("/api/v1/billing/subscription", headers=auth)).json()
    assert ent["plan"]["code"] == "pro"
    assert ent["status"] == "active"

    await billing.deliver(
        event(
            "evt_s3",
            "customer.subscription.deleted",
            subscription_object("sub_1", uid, plan, "canceled"),
            created=t + 30,
        )
    )
    late = event(
        "evt_s2",
        "customer.subscription.updated",
        subscription_object("sub_1", uid, plan, "active"),
        created=t + 20,
    )
    assert (await billing.deliver(late)).status_code == 200

    body = (await billing.client.get("/api/v1/billing/subscription", headers=auth)).json()
    assert body["status"] == "canceled"
    assert body["plan"]["code"] == "free"
    assert body["entitlements"]["allowed_tiers"] == ["economy"]


async def test_an_older_subscription_update_does_not_overwrite_a_newer_one(billing: Billing) -> None:
    user, auth = await billing.user()
    uid, plan = str(user.id), str(PRO.id)
    t = int(time.time()) - 100
    await billing.deliver(
        event(
            "evt_u2",
            "customer.subscription.updated",
            subscription_object("sub_2", uid, plan, "past_due"),
            created=t + 10,
        )
    )
    await billing.deliver(
        event(
            "evt_u1",
            "customer.subscription.created",
            subscription_object("sub_2", uid, plan, "active"),
            created=t,
        )
    )
    assert (await billing.client.get("/api/v1/billing/subscription", headers=auth)).json()[
        "status"
    ] == "past_due"


@BOTH
async def test_each_paid_invoice_grants_the_monthly_allowance_once(billing: Billing) -> None:
    user, auth = await billing.user()
    uid, plan = str(user.id), str(PRO.id)
    await billing.deliver(
        event("evt_c", "customer.subscription.created", subscription_object("sub_3", uid, plan, "active"))
    )
    invoice = invoice_object("in_1", "sub_3", uid, plan)
    await billing.deliver(event("evt_i1", "invoice.paid", invoice))
    await billing.deliver(event("evt_i1_again_with_new_id", "invoice.paid", invoice))
    next_month = invoice_object("in_2", "sub_3", uid, plan, start=PERIOD_START + PERIOD)
    await billing.deliver(event("evt_i2", "invoice.paid", next_month))
    assert await billing.balance(user) == (2 * PRO.monthly_credits, 0)
    usage = (await billing.client.get("/api/v1/billing/subscription", headers=auth)).json()["usage"]
    assert usage["credits_granted"] == PRO.monthly_credits  # the subscription's current period


async def test_an_invoice_paid_before_the_subscription_event_still_grants(billing: Billing) -> None:
    user, _ = await billing.user()
    await billing.deliver(
        event("evt_early", "invoice.paid", invoice_object("in_early", "sub_4", str(user.id), str(PRO.id)))
    )
    assert await billing.balance(user) == (PRO.monthly_credits, 0)


async def test_a_failed_invoice_marks_the_subscription_past_due(billing: Billing) -> None:
    user, auth = await billing.user()
    uid, plan = str(user.id), str(PRO.id)
    t = int(time.time()) - 50
    await billing.deliver(
        event(
            "evt_c5",
            "customer.subscription.created",
            subscription_object("sub_5", uid, plan, "active"),
            created=t,
        )
    )
    failed = invoice_object("in_5", "sub_5", uid, plan) | {"status": "open", "amount_paid": 0}
    await billing.deliver(event("evt_f5", "invoice.payment_failed", failed))
    assert (await billing.client.get("/api/v1/billing/subscription", headers=auth)).json()[
        "status"
    ] == "past_due"


@BOTH
async def test_a_refunded_charge_takes_back_only_what_is_left(billing: Billing) -> None:
    user, _ = await billing.user()
    obj = checkout_completed("cs_r", str(user.id), str(STARTER.id), payment_intent="pi_r")
    await billing.deliver(event("evt_buy", "checkout.session.completed", obj))
    await ReserveCredits(billing.uow(), clock, ids)(ReserveCreditsInput(user.id, 4_000, "task:spent"))
    await billing.deliver(event("evt_refund", "charge.refunded", charge_refunded("ch_1", "pi_r", 500, 500)))
    assert await billing.balance(user) == (0, 4_000)
    async with billing.uow() as uow:
        refunds = await uow.credits.entries_with_reference(user.id, "charge:ch_1")
    assert [e.available_delta for e in refunds] == [-1_000]


async def test_a_partial_refund_takes_back_its_share(billing: Billing) -> None:
    user, _ = await billing.user()
    obj = checkout_completed("cs_p", str(user.id), str(STARTER.id), payment_intent="pi_p")
    await billing.deliver(event("evt_buy_p", "checkout.session.completed", obj))
    await billing.deliver(event("evt_ref_p1", "charge.refunded", charge_refunded("ch_p", "pi_p", 500, 100)))
    await billing.deliver(event("evt_ref_p2", "charge.refunded", charge_refunded("ch_p", "pi_p", 500, 250)))
    assert await billing.balance(user) == (STARTER.credits // 2, 0)


# --- ledger ------------------------------------------------------------------------------------------


@BOTH
async def test_transactions_are_paginated_filtered_and_private(billing: Billing) -> None:
    user, auth = await billing.user()
    _, other_auth = await billing.user(credits=7)
    for n in range(5):
        await GrantCredits(billing.uow(), clock, ids)(GrantCreditsInput(user.id, 10 + n, f"g{n}"))
    await ReserveCredits(billing.uow(), clock, ids)(ReserveCreditsInput(user.id, 5, "task:x"))

    page1 = (await billing.client.get("/api/v1/billing/transactions?limit=4", headers=auth)).json()
    page2 = (
        await billing.client.get(
            f"/api/v1/billing/transactions?limit=4&cursor={page1['next_cursor']}", headers=auth
        )
    ).json()
    holds = (await billing.client.get("/api/v1/billing/transactions?kind=hold", headers=auth)).json()
    future = (
        await billing.client.get(
            "/api/v1/billing/transactions", params={"created_after": "2999-01-01T00:00:00Z"}, headers=auth
        )
    ).json()
    others = (await billing.client.get("/api/v1/billing/transactions", headers=other_auth)).json()

    assert len(page1["items"]) == 4
    assert len(page2["items"]) == 2
    assert page2["next_cursor"] is None
    ids_seen = [e["id"] for e in page1["items"] + page2["items"]]
    assert ids_seen == sorted(ids_seen, reverse=True)
    assert [e["kind"] for e in holds["items"]] == ["hold"]
    assert future["items"] == []
    assert [e["amount_credits"] for e in others["items"]] == [7]


async def test_a_bad_cursor_or_kind_is_a_400(billing: Billing) -> None:
    _, auth = await billing.user()
    assert (
        await billing.client.get("/api/v1/billing/transactions?cursor=nope", headers=auth)
    ).status_code == 400
    assert (
        await billing.client.get("/api/v1/billing/transactions?kind=steal", headers=auth)
    ).status_code == 400


# --- admin -------------------------------------------------------------------------------------------


@BOTH
async def test_admins_grant_and_adjust_with_a_reason(billing: Billing) -> None:
    _, admin = await billing.user(role=Role.ADMIN)
    user, auth = await billing.user()
    url = f"/api/v1/admin/users/{user.id}/credits"
    granted = await billing.client.post(
        url, json={"amount_credits": 100, "kind": "grant", "reason": "goodwill"}, headers=admin
    )
    taken = await billing.client.post(
        url, json={"amount_credits": -30, "reason": "double grant"}, headers=admin
    )
    too_much = await billing.client.post(url, json={"amount_credits": -500, "reason": "oops"}, headers=admin)
    no_reason = await billing.client.post(url, json={"amount_credits": 5}, headers=admin)
    empty_reason = await billing.client.post(url, json={"amount_credits": 5, "reason": ""}, headers=admin)
    as_user = await billing.client.post(url, json={"amount_credits": 5, "reason": "me"}, headers=auth)
    unknown = await billing.client.post(
        "/api/v1/admin/users/01890000-0000-7000-8000-000000000000/credits",
        json={"amount_credits": 5, "reason": "x"},
        headers=admin,
    )
    assert granted.status_code == 201
    assert taken.json()["available_credits"] == 70
    assert (too_much.status_code, too_much.json()["code"]) == (422, "balance_would_go_negative")
    assert no_reason.status_code == 400
    assert empty_reason.status_code == 400
    assert as_user.status_code == 403
    assert unknown.status_code == 404
    assert await billing.balance(user) == (70, 0)


@BOTH
async def test_admins_manage_plans_and_packages(billing: Billing) -> None:
    _, admin = await billing.user(role=Role.ADMIN)
    _, auth = await billing.user()
    plan = {
        "code": "team",
        "name": "Team",
        "monthly_credits": 80_000,
        "price_cents": 8_000,
        "max_concurrent_tasks": 5,
        "allowed_tiers": ["standard", "economy"],
        "rate_limit_tier": "elevated",
    }
    created = await billing.client.post("/api/v1/admin/plans", json=plan, headers=admin)
    duplicate = await billing.client.post("/api/v1/admin/plans", json=plan, headers=admin)
    forbidden = await billing.client.post("/api/v1/admin/plans", json=plan, headers=auth)
    plan_id = created.json()["id"]
    hidden = await billing.client.patch(
        f"/api/v1/admin/plans/{plan_id}", json={"active": False}, headers=admin
    )
    package = await billing.client.post(
        "/api/v1/admin/packages",
        json={"code": "mega", "name": "Mega", "credits": 200_000, "price_cents": 15_000},
        headers=admin,
    )
    repriced = await billing.client.patch(
        f"/api/v1/admin/packages/{package.json()['id']}", json={"price_cents": 14_000}, headers=admin
    )
    public_plans = (await billing.client.get("/api/v1/billing/plans")).json()["items"]

    assert created.status_code == 201
    assert created.headers["location"] == f"/api/v1/admin/plans/{plan_id}"
    assert created.json()["allowed_tiers"] == ["economy", "standard"]
    assert duplicate.status_code == 409
    assert forbidden.status_code == 403
    assert hidden.json()["active"] is False
    assert "team" not in [p["code"] for p in public_plans]
    assert repriced.json()["price_cents"] == 14_000


async def test_an_admin_grant_repeated_with_the_same_idempotency_key_happens_once(billing: Billing) -> None:
    _, admin = await billing.user(role=Role.ADMIN)
    user, _ = await billing.user()
    url = f"/api/v1/admin/users/{user.id}/credits"
    headers = {**admin, "Idempotency-Key": "support-ticket-42"}
    body = {"amount_credits": 250, "kind": "grant", "reason": "outage credit"}
    first = await billing.client.post(url, json=body, headers=headers)
    again = await billing.client.post(url, json=body, headers=headers)
    changed = await billing.client.post(url, json={**body, "amount_credits": 999}, headers=headers)
    assert (first.json()["replayed"], again.json()["replayed"]) == (False, True)
    assert again.json()["entry"]["id"] == first.json()["entry"]["id"]
    assert changed.status_code == 409
    assert await billing.balance(user) == (250, 0)
