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
from asynccoder.adapters.sqlalchemy.billing_tables import stripe_events
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
    ENTERPRISE,
    PERIOD,
    PERIOD_START,
    PRO,
    STARTER,
    WEBHOOK_SECRET,
    charge_refunded,
    checkout_completed,
    event,
    invoice_line,
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


# --- under real Stripe traffic (issue 15) --------------------------------------------------------------


async def _subscription_view(billing: Billing, auth: dict[str, str]) -> dict[str, Any]:
    response = await billing.client.get("/api/v1/billing/subscription", headers=auth)
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


async def _price_plans(billing: Billing) -> None:
    """Pro and Enterprise sold through Stripe prices, as the Customer Portal needs them."""
    async with billing.uow() as uow:
        await uow.billing_catalogue.save_plan(dataclasses.replace(PRO, stripe_price_id="price_pro"))
        await uow.billing_catalogue.save_plan(dataclasses.replace(ENTERPRISE, stripe_price_id="price_ent"))
        await uow.commit()


@BOTH
async def test_concurrent_partial_refunds_over_http_take_back_the_charges_credits_once(
    billing: Billing,
) -> None:
    user, _ = await billing.user()
    obj = checkout_completed("cs_cr", str(user.id), str(STARTER.id), payment_intent="pi_cr")
    await billing.deliver(event("evt_buy_cr", "checkout.session.completed", obj))
    refunds = [
        event(f"evt_cr_{n}", "charge.refunded", charge_refunded("ch_cr", "pi_cr", 500, 25 * n))
        for n in range(1, 21)
    ]

    responses = await asyncio.gather(*(billing.deliver(p) for p in refunds))

    assert [r.status_code for r in responses] == [200] * 20
    assert await billing.balance(user) == (0, 0)
    async with billing.uow() as uow:
        taken = [
            -e.available_delta for e in await uow.credits.entries_with_reference(user.id, "charge:ch_cr")
        ]
    assert sum(taken) == STARTER.credits


async def test_a_refund_for_credits_already_spent_is_acknowledged_not_402(billing: Billing) -> None:
    user, _ = await billing.user()
    obj = checkout_completed("cs_sp", str(user.id), str(STARTER.id), payment_intent="pi_sp")
    await billing.deliver(event("evt_buy_sp", "checkout.session.completed", obj))
    await ReserveCredits(billing.uow(), clock, ids)(ReserveCreditsInput(user.id, STARTER.credits, "task:all"))
    first = await billing.deliver(
        event("evt_sp1", "charge.refunded", charge_refunded("ch_sp", "pi_sp", 500, 250))
    )
    second = await billing.deliver(
        event("evt_sp2", "charge.refunded", charge_refunded("ch_sp", "pi_sp", 500, 500))
    )
    assert (first.status_code, second.status_code) == (200, 200)
    assert await billing.balance(user) == (0, STARTER.credits)


async def test_a_plan_switch_in_the_portal_follows_the_price_not_the_stale_metadata(billing: Billing) -> None:
    await _price_plans(billing)
    user, auth = await billing.user()
    uid, pro = str(user.id), str(PRO.id)
    t = int(time.time()) - 100
    created = subscription_object("sub_sw", uid, pro, "active", price="price_pro")
    await billing.deliver(event("evt_sw1", "customer.subscription.created", created, created=t))
    # The portal changes the item's price; the metadata we set at checkout still names Pro.
    switched = subscription_object("sub_sw", uid, pro, "active", price="price_ent")
    await billing.deliver(event("evt_sw2", "customer.subscription.updated", switched, created=t + 10))
    renewal = invoice_object(
        "in_sw", "sub_sw", uid, pro, amount=ENTERPRISE.price_cents, start=PERIOD_START + PERIOD
    )
    await billing.deliver(event("evt_sw3", "invoice.paid", renewal, created=t + 20))

    body = await _subscription_view(billing, auth)
    assert body["plan"]["code"] == "enterprise"
    assert body["entitlements"]["max_concurrent_tasks"] == ENTERPRISE.max_concurrent_tasks
    assert await billing.balance(user) == (ENTERPRISE.monthly_credits, 0)


async def test_a_proration_invoice_grants_no_new_month(billing: Billing) -> None:
    user, _ = await billing.user()
    uid, plan = str(user.id), str(PRO.id)
    await billing.deliver(
        event("evt_pr0", "customer.subscription.created", subscription_object("sub_pr", uid, plan, "active"))
    )
    first = invoice_object("in_pr1", "sub_pr", uid, plan, billing_reason="subscription_create")
    await billing.deliver(event("evt_pr1", "invoice.paid", first))
    lines = [
        invoice_line(
            "sub_pr", start=PERIOD_START + 86400, end=PERIOD_START + PERIOD, amount=-600, proration=True
        ),
        invoice_line(
            "sub_pr", start=PERIOD_START + 86400, end=PERIOD_START + PERIOD, amount=6000, proration=True
        ),
    ]
    proration = invoice_object(
        "in_pr2", "sub_pr", uid, plan, amount=5400, billing_reason="subscription_update", lines=lines
    )
    assert (await billing.deliver(event("evt_pr2", "invoice.paid", proration))).status_code == 200
    assert await billing.balance(user) == (PRO.monthly_credits, 0)


async def test_a_trial_gets_no_allowance_until_its_first_paid_invoice(billing: Billing) -> None:
    user, auth = await billing.user()
    uid, plan = str(user.id), str(PRO.id)
    t = int(time.time()) - 100
    trial = subscription_object("sub_tr", uid, plan, "trialing")
    await billing.deliver(event("evt_tr1", "customer.subscription.created", trial, created=t))
    zero = invoice_object("in_tr0", "sub_tr", uid, plan, amount=0, billing_reason="subscription_create")
    await billing.deliver(event("evt_tr2", "invoice.paid", zero, created=t + 1))
    during_trial = await billing.balance(user)
    body = await _subscription_view(billing, auth)
    first_paid = invoice_object("in_tr1", "sub_tr", uid, plan, start=PERIOD_START + PERIOD)
    await billing.deliver(event("evt_tr3", "invoice.paid", first_paid, created=t + 2))

    assert during_trial == (0, 0)
    assert (body["status"], body["plan"]["code"]) == ("trialing", "pro")  # the trial entitles, grants nothing
    assert await billing.balance(user) == (PRO.monthly_credits, 0)


async def test_cancelling_during_the_trial_leaves_no_allowance(billing: Billing) -> None:
    user, auth = await billing.user()
    uid, plan = str(user.id), str(PRO.id)
    t = int(time.time()) - 100
    await billing.deliver(
        event(
            "evt_tc1",
            "customer.subscription.created",
            subscription_object("sub_tc", uid, plan, "trialing"),
            created=t,
        )
    )
    zero = invoice_object("in_tc0", "sub_tc", uid, plan, amount=0, billing_reason="subscription_create")
    await billing.deliver(event("evt_tc2", "invoice.paid", zero, created=t + 1))
    canceled = subscription_object("sub_tc", uid, plan, "canceled")
    await billing.deliver(event("evt_tc3", "customer.subscription.deleted", canceled, created=t + 2))
    assert await billing.balance(user) == (0, 0)
    assert (await _subscription_view(billing, auth))["plan"]["code"] == "free"


async def test_an_invoice_paid_after_the_subscription_was_deleted_grants_nothing(billing: Billing) -> None:
    user, _ = await billing.user()
    uid, plan = str(user.id), str(PRO.id)
    t = int(time.time()) - 100
    await billing.deliver(
        event(
            "evt_d1",
            "customer.subscription.created",
            subscription_object("sub_d", uid, plan, "active"),
            created=t,
        )
    )
    await billing.deliver(
        event(
            "evt_d2",
            "customer.subscription.deleted",
            subscription_object("sub_d", uid, plan, "canceled"),
            created=t + 1,
        )
    )
    late = invoice_object("in_d", "sub_d", uid, plan, start=PERIOD_START + PERIOD)
    assert (await billing.deliver(event("evt_d3", "invoice.paid", late, created=t + 2))).status_code == 200
    assert await billing.balance(user) == (0, 0)


@BOTH
async def test_two_invoices_for_one_period_grant_its_allowance_once(billing: Billing) -> None:
    user, auth = await billing.user()
    uid, plan = str(user.id), str(PRO.id)
    await billing.deliver(
        event("evt_o0", "customer.subscription.created", subscription_object("sub_o", uid, plan, "active"))
    )
    create = invoice_object("in_o1", "sub_o", uid, plan, billing_reason="subscription_create")
    cycle = invoice_object("in_o2", "sub_o", uid, plan, billing_reason="subscription_cycle")
    responses = await asyncio.gather(
        billing.deliver(event("evt_o1", "invoice.paid", create)),
        billing.deliver(event("evt_o2", "invoice.paid", cycle)),
    )
    assert [r.status_code for r in responses] == [200, 200]
    assert await billing.balance(user) == (PRO.monthly_credits, 0)
    assert (await _subscription_view(billing, auth))["usage"]["credits_granted"] == PRO.monthly_credits


async def test_an_older_state_at_the_same_second_does_not_win(billing: Billing) -> None:
    user, auth = await billing.user()
    uid, plan = str(user.id), str(PRO.id)
    t = int(time.time()) - 100
    # Stripe sent created(incomplete) then updated(active) within one second; they arrive the other way round.
    await billing.deliver(
        event(
            "evt_tie2",
            "customer.subscription.updated",
            subscription_object("sub_tie", uid, plan, "active"),
            created=t,
        )
    )
    await billing.deliver(
        event(
            "evt_tie1",
            "customer.subscription.created",
            subscription_object("sub_tie", uid, plan, "incomplete"),
            created=t,
        )
    )
    body = await _subscription_view(billing, auth)
    assert (body["status"], body["plan"]["code"]) == ("active", "pro")


@BOTH
async def test_subscription_events_store_the_subscription_as_stripe_has_it_now(billing: Billing) -> None:
    user, auth = await billing.user()
    uid, plan = str(user.id), str(PRO.id)
    t = int(time.time()) - 100
    billing.stripe.subscriptions["sub_api"] = subscription_object("sub_api", uid, plan, "active")
    # Two updates in the same second, the stale one (past_due) delivered last: the API has the truth.
    await billing.deliver(
        event(
            "evt_api2",
            "customer.subscription.updated",
            subscription_object("sub_api", uid, plan, "active"),
            created=t,
        )
    )
    await billing.deliver(
        event(
            "evt_api1",
            "customer.subscription.updated",
            subscription_object("sub_api", uid, plan, "past_due"),
            created=t,
        )
    )
    reads = [
        r for r in billing.stripe.requests if r.method == "GET" and r.path == "/v1/subscriptions/sub_api"
    ]
    assert (await _subscription_view(billing, auth))["status"] == "active"
    assert len(reads) == 2
    assert reads[0].headers["authorization"] == f"Bearer {API_KEY}"


@pytest.mark.parametrize("status", ["incomplete", "paused", "unpaid"])
async def test_subscriptions_that_are_not_paid_for_do_not_entitle_the_paid_plan(
    billing: Billing, status: str
) -> None:
    user, auth = await billing.user()
    obj = subscription_object(f"sub_{status}", str(user.id), str(PRO.id), status)
    await billing.deliver(event(f"evt_{status}", "customer.subscription.created", obj))
    body = await _subscription_view(billing, auth)
    assert body["status"] == status
    assert body["plan"]["code"] == "free"
    assert body["entitlements"]["allowed_tiers"] == ["economy"]


async def test_an_invoice_paid_before_the_subscription_exists_writes_the_first_periods_usage(
    billing: Billing,
) -> None:
    user, auth = await billing.user()
    uid, plan = str(user.id), str(PRO.id)
    t = int(time.time()) - 100
    first = invoice_object("in_first", "sub_first", uid, plan, billing_reason="subscription_create")
    await billing.deliver(event("evt_first2", "invoice.paid", first, created=t + 1))
    created = subscription_object("sub_first", uid, plan, "incomplete")
    await billing.deliver(event("evt_first1", "customer.subscription.created", created, created=t))

    body = await _subscription_view(billing, auth)
    assert (body["status"], body["plan"]["code"]) == ("active", "pro")
    assert body["usage"]["credits_granted"] == PRO.monthly_credits
    assert await billing.balance(user) == (PRO.monthly_credits, 0)


def _raw_event(event_id: Any, *, created: str | None = "1790000000") -> bytes:
    """A Stripe event written by hand, so that ``created`` can be any JSON (or missing)."""
    fields = [f'"id": {json.dumps(event_id)}', '"object": "event"', '"type": "customer.tax_id.created"']
    if created is not None:
        fields.append(f'"created": {created}')
    fields.append('"data": {"object": {"id": "txi_1", "object": "tax_id"}}')
    return ("{" + ", ".join(fields) + "}").encode()


@BOTH
async def test_a_signed_event_without_created_is_acknowledged_with_its_receipt_time(billing: Billing) -> None:
    before = clock.now()
    response = await billing.deliver(_raw_event("evt_no_created", created=None))
    async with billing.engine.connect() as conn:
        stored = (
            await conn.execute(
                sa.select(stripe_events.c.created, stripe_events.c.received_at).where(
                    stripe_events.c.id == "evt_no_created"
                )
            )
        ).one()
    assert response.status_code == 200
    assert stored.created == stored.received_at
    assert before <= stored.created <= clock.now()


@BOTH
@pytest.mark.parametrize(
    ("event_id", "created"),
    [
        ("evt_far", "1e20"),
        ("evt_far_int", "100000000000000000000"),
        ("evt_" + "x" * 300, "1790000000"),
        ("evt_nul\u0000x", "1790000000"),
        (12345, "1790000000"),
        ("evt_from_the_future", str(int(time.time()) + 3 * 86400)),
    ],
    ids=[
        "created-1e20",
        "created-huge-int",
        "id-over-255",
        "id-with-nul",
        "id-not-a-string",
        "created-ahead",
    ],
)
async def test_signed_but_odd_events_get_400_never_500_and_write_nothing(
    billing: Billing, event_id: Any, created: str
) -> None:
    response = await billing.deliver(_raw_event(event_id, created=created))
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_event"
    assert await billing.events_stored() == 0


@BOTH
async def test_odd_ids_inside_a_signed_event_are_ignored_not_a_500(billing: Billing) -> None:
    user, _ = await billing.user()
    obj = subscription_object("sub_\u0000" + "y" * 300, str(user.id), str(PRO.id), "active")
    response = await billing.deliver(event("evt_odd_inside", "customer.subscription.created", obj))
    assert response.status_code == 200


async def test_a_retried_checkout_replays_under_the_same_key_and_a_changed_body_is_refused(
    billing: Billing,
) -> None:
    user, auth = await billing.user()
    await billing.client.post("/api/v1/billing/checkout", json={"package_id": str(STARTER.id)}, headers=auth)
    headers = {**auth, "Idempotency-Key": "order-lost"}
    billing.stripe.drop_next_response = 1  # Stripe makes the session, the answer never arrives

    first = await billing.client.post(
        "/api/v1/billing/checkout", json={"package_id": str(STARTER.id)}, headers=headers
    )
    changed = await billing.client.post(
        "/api/v1/billing/checkout", json={"plan_id": str(PRO.id)}, headers=headers
    )

    posts = [r for r in billing.stripe.requests if r.path == "/v1/checkout/sessions"][1:]
    assert first.status_code == 200
    assert [r.headers["idempotency-key"] for r in posts[:2]] == [f"checkout:{user.id}:order-lost"] * 2
    assert posts[0].params == posts[1].params
    assert len(billing.stripe.sessions) == 2  # the first checkout's and the retried one's, made once
    assert first.json()["session_id"] in billing.stripe.sessions
    assert changed.status_code == 409
    assert changed.json()["code"] == "idempotency_key_reused"
