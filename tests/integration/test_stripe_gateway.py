"""The Stripe adapter through the real ``stripe`` SDK against a local server speaking Stripe's API."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import pytest

from asynccoder.adapters.stripe.memory_gateway import sign_payload
from asynccoder.adapters.stripe.payment_gateway import (
    AsyncHttpxStripeClient,
    StripePaymentGateway,
    make_stripe_client,
)
from asynccoder.application.ports.billing import (
    CheckoutRequest,
    LineItem,
)
from asynccoder.domain.billing import SubscriptionStatus
from asynccoder.domain.errors import Conflict, InvalidInput, Unavailable
from tests.support.billing import ENTERPRISE, PERIOD_START, subscription_object
from tests.support.builders import new_id
from tests.support.stripe_server import API_KEY, StripeState, running_stripe_server

WEBHOOK_SECRET = "whsec_test_secret"


@pytest.fixture
def stripe_server() -> Iterator[tuple[str, StripeState]]:
    with running_stripe_server() as server:
        yield server


@pytest.fixture
async def gateway(stripe_server: tuple[str, StripeState]) -> AsyncIterator[StripePaymentGateway]:
    http_client = AsyncHttpxStripeClient(timeout=5)
    client = make_stripe_client(API_KEY, stripe_server[0], http_client)
    yield StripePaymentGateway(client, WEBHOOK_SECRET)
    await http_client.close_async()


def _checkout(customer: str, key: str, *, mode: str = "payment", amount: int = 500) -> CheckoutRequest:
    return CheckoutRequest(
        mode="payment" if mode == "payment" else "subscription",
        customer_id=customer,
        item=LineItem("Starter (5000 credits)", amount, recurring_monthly=mode == "subscription"),
        success_url="https://app.example/ok",
        cancel_url="https://app.example/cancel",
        client_reference_id="user-1",
        metadata={"user_id": "u1", "package_id": "p1"},
        idempotency_key=key,
    )


async def test_creating_a_customer_sends_form_data_with_the_key_and_the_idempotency_key(
    gateway: StripePaymentGateway, stripe_server: tuple[str, StripeState]
) -> None:
    user_id = new_id()
    customer = await gateway.create_customer(
        user_id=user_id, email="a@example.com", idempotency_key=f"customer:{user_id}"
    )
    request = stripe_server[1].requests[-1]
    assert customer.startswith("cus_")
    assert request.path == "/v1/customers"
    assert request.params["email"] == "a@example.com"
    assert request.params["metadata[user_id]"] == str(user_id)
    assert request.headers["idempotency-key"] == f"customer:{user_id}"
    assert request.headers["content-type"].startswith("application/x-www-form-urlencoded")


async def test_the_same_customer_key_returns_the_same_customer(gateway: StripePaymentGateway) -> None:
    user_id = new_id()
    first = await gateway.create_customer(user_id=user_id, email="a@example.com", idempotency_key="k-c")
    second = await gateway.create_customer(user_id=user_id, email="a@example.com", idempotency_key="k-c")
    assert first == second


async def test_a_package_checkout_is_a_payment_session_with_inline_price_data(
    gateway: StripePaymentGateway, stripe_server: tuple[str, StripeState]
) -> None:
    customer = await gateway.create_customer(user_id=new_id(), email="a@example.com", idempotency_key="c1")
    session = await gateway.create_checkout_session(_checkout(customer, "checkout:1"))
    sent = stripe_server[1].requests[-1].params
    assert session.url.startswith("https://checkout.stripe.com/")
    assert sent["mode"] == "payment"
    assert sent["line_items[0][price_data][unit_amount]"] == "500"
    assert sent["line_items[0][price_data][currency]"] == "usd"
    assert sent["metadata[package_id]"] == "p1"
    assert sent["payment_intent_data[metadata][user_id]"] == "u1"


async def test_a_plan_checkout_is_a_subscription_session_with_a_monthly_price(
    gateway: StripePaymentGateway, stripe_server: tuple[str, StripeState]
) -> None:
    customer = await gateway.create_customer(user_id=new_id(), email="a@example.com", idempotency_key="c2")
    await gateway.create_checkout_session(_checkout(customer, "checkout:2", mode="subscription", amount=2000))
    sent = stripe_server[1].requests[-1].params
    assert sent["mode"] == "subscription"
    assert sent["line_items[0][price_data][recurring][interval]"] == "month"
    assert sent["subscription_data[metadata][user_id]"] == "u1"


async def test_reusing_a_checkout_key_with_other_parameters_is_a_conflict(
    gateway: StripePaymentGateway,
) -> None:
    customer = await gateway.create_customer(user_id=new_id(), email="a@example.com", idempotency_key="c3")
    first = await gateway.create_checkout_session(_checkout(customer, "checkout:3"))
    again = await gateway.create_checkout_session(_checkout(customer, "checkout:3"))
    assert again == first
    with pytest.raises(Conflict) as caught:
        await gateway.create_checkout_session(_checkout(customer, "checkout:3", amount=999))
    assert caught.value.code == "idempotency_key_reused"


async def test_server_errors_are_retried_with_the_same_idempotency_key(
    gateway: StripePaymentGateway, stripe_server: tuple[str, StripeState]
) -> None:
    stripe_server[1].fail_next.append(500)
    customer = await gateway.create_customer(
        user_id=new_id(), email="a@example.com", idempotency_key="c-retry"
    )
    posts = [r for r in stripe_server[1].requests if r.path == "/v1/customers"]
    assert customer.startswith("cus_")
    assert [r.headers["idempotency-key"] for r in posts] == ["c-retry", "c-retry"]


async def test_a_provider_that_keeps_failing_is_unavailable(
    gateway: StripePaymentGateway, stripe_server: tuple[str, StripeState]
) -> None:
    stripe_server[1].fail_next.extend([500, 500, 500])
    with pytest.raises(Unavailable):
        await gateway.create_customer(user_id=new_id(), email="a@example.com", idempotency_key="c-down")


async def test_a_wrong_api_key_is_unavailable_not_a_crash(stripe_server: tuple[str, StripeState]) -> None:
    http_client = AsyncHttpxStripeClient(timeout=5)
    gateway = StripePaymentGateway(
        make_stripe_client("sk_test_wrong", stripe_server[0], http_client), WEBHOOK_SECRET
    )
    try:
        with pytest.raises(Unavailable):
            await gateway.create_customer(user_id=new_id(), email="a@example.com", idempotency_key="c-x")
    finally:
        await http_client.close_async()


async def test_portal_and_invoices(
    gateway: StripePaymentGateway, stripe_server: tuple[str, StripeState]
) -> None:
    customer = await gateway.create_customer(user_id=new_id(), email="a@example.com", idempotency_key="c4")
    for _ in range(3):
        stripe_server[1].add_invoice(customer)
    url = await gateway.create_portal_session(
        customer_id=customer, return_url="https://app.example/billing", idempotency_key="portal:1"
    )
    assert stripe_server[1].requests[-1].headers["idempotency-key"] == "portal:1"
    first = await gateway.list_invoices(customer_id=customer, limit=2, starting_after=None)
    rest = await gateway.list_invoices(customer_id=customer, limit=2, starting_after=first.items[-1].id)
    assert url.startswith("https://billing.stripe.com/")
    assert first.has_more
    assert len(first.items) == 2
    assert not rest.has_more
    assert len(rest.items) == 1
    assert first.items[0].amount_paid_cents == 2000


def _event() -> bytes:
    return json.dumps(
        {
            "id": "evt_1",
            "object": "event",
            "type": "ping",
            "created": int(time.time()),
            "data": {"object": {}},
        }
    ).encode()


def test_a_correctly_signed_event_is_decoded(gateway: StripePaymentGateway) -> None:
    payload = _event()
    event = gateway.parse_event(payload, sign_payload(payload, WEBHOOK_SECRET, int(time.time())))
    assert (event.id, event.type) == ("evt_1", "ping")


@pytest.mark.parametrize(
    "tamper",
    [
        lambda p, h: (p[:-1] + b" ", h),
        lambda p, h: (json.dumps(json.loads(p), indent=2).encode(), h),
        lambda p, h: (p, None),
        lambda p, h: (p, sign_payload(p, WEBHOOK_SECRET, int(time.time()) - 301)),
        lambda p, h: (p, sign_payload(p, "whsec_other", int(time.time()))),
    ],
    ids=["one-byte-changed", "re-serialised", "missing-header", "too-old", "wrong-secret"],
)
def test_events_that_do_not_verify_are_rejected(gateway: StripePaymentGateway, tamper: object) -> None:
    payload = _event()
    body, header = tamper(payload, sign_payload(payload, WEBHOOK_SECRET, int(time.time())))  # type: ignore[operator]
    with pytest.raises(InvalidInput) as caught:
        gateway.parse_event(body, header)
    assert caught.value.code == "invalid_signature"


async def test_a_checkout_whose_answer_was_lost_is_retried_with_the_same_key_and_made_once(
    gateway: StripePaymentGateway, stripe_server: tuple[str, StripeState]
) -> None:
    state = stripe_server[1]
    customer = await gateway.create_customer(
        user_id=new_id(), email="a@example.com", idempotency_key="c-lost"
    )
    state.drop_next_response = 1

    session = await gateway.create_checkout_session(_checkout(customer, "checkout:u1:lost"))

    posts = [r for r in state.requests if r.path == "/v1/checkout/sessions"]
    assert [r.headers["idempotency-key"] for r in posts] == ["checkout:u1:lost"] * 2
    assert list(state.sessions) == [session.id]


async def test_the_local_stripe_refuses_a_key_reused_on_another_endpoint_as_stripe_does(
    gateway: StripePaymentGateway,
) -> None:
    customer = await gateway.create_customer(
        user_id=new_id(), email="a@example.com", idempotency_key="k-both"
    )
    with pytest.raises(Conflict) as caught:
        await gateway.create_checkout_session(_checkout(customer, "k-both"))
    assert caught.value.code == "idempotency_key_reused"


async def test_a_subscription_is_read_back_in_stripes_shape(
    gateway: StripePaymentGateway, stripe_server: tuple[str, StripeState]
) -> None:
    user_id = new_id()
    stripe_server[1].subscriptions["sub_read"] = subscription_object(
        "sub_read", str(user_id), str(ENTERPRISE.id), "past_due", price="price_ent"
    )

    read = await gateway.retrieve_subscription("sub_read")
    missing = await gateway.retrieve_subscription("sub_nobody")

    assert read is not None
    assert (read.subscription_id, read.status, read.price_id) == (
        "sub_read",
        SubscriptionStatus.PAST_DUE,
        "price_ent",
    )
    assert (read.user_id, read.plan_id) == (user_id, ENTERPRISE.id)
    assert read.current_period_start == datetime.fromtimestamp(PERIOD_START, UTC)
    assert missing is None
    assert stripe_server[1].requests[-1].path == "/v1/subscriptions/sub_nobody"
