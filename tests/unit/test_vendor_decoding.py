"""Vendor formats decoded in the adapters: Stripe event JSON and GitHub deliveries as typed port events."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from asynccoder.adapters.github.webhooks import GitHubWebhooks, sign
from asynccoder.adapters.stripe.stripe_payloads import parse_verified_event
from asynccoder.application.ports.billing import ChargeRefunded, InvoiceSettled, SubscriptionChanged
from asynccoder.application.ports.code_hosting import (
    HostRepositoryRef,
    MemberChanged,
    PingDelivered,
    PullRequestDelivered,
    PushDelivered,
    RepositoriesRemoved,
    WebhookDelivery,
)
from asynccoder.domain.billing import SubscriptionStatus
from asynccoder.domain.code_hosting import Permission, PullRequestState
from asynccoder.domain.errors import InvalidInput
from tests.support.github_payloads import (
    FULL_NAME,
    REPO_ID,
    installation_repositories_event,
    member_event,
    pull_request_event,
    push_event,
)

USER = uuid.UUID("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b")


def _stripe(event_type: str, obj: dict[str, object]) -> bytes:
    return json.dumps(
        {"id": "evt_1", "type": event_type, "created": 1764504000, "data": {"object": obj}}
    ).encode()


def test_an_invoice_reads_expanded_ids_the_subscription_details_and_the_first_line() -> None:
    event = parse_verified_event(
        _stripe(
            "invoice.paid",
            {
                "id": "in_1",
                "customer": {"id": "cus_1", "object": "customer"},
                "amount_paid": 2000,
                "currency": None,
                "parent": {
                    "subscription_details": {"subscription": "sub_1", "metadata": {"user_id": str(USER)}}
                },
                "lines": {
                    "data": [{"pricing": {"price_details": {"price": "price_9"}}, "period": {"start": 10}}]
                },
            },
        )
    )
    assert event.created == datetime(2025, 11, 30, 12, tzinfo=UTC)
    assert event.data == InvoiceSettled(
        paid=True,
        invoice_id="in_1",
        subscription_id="sub_1",
        customer_id="cus_1",
        amount_paid_cents=2000,
        currency="usd",
        hosted_invoice_url=None,
        price_id="price_9",
        period_start=datetime.fromtimestamp(10, UTC),
        period_end=None,
        user_id=USER,
        plan_id=None,
    )


def test_subscription_and_refund_events_are_typed_and_other_types_carry_nothing() -> None:
    deleted = parse_verified_event(
        _stripe("customer.subscription.deleted", {"id": "sub_1", "status": "active"})
    )
    assert isinstance(deleted.data, SubscriptionChanged)
    assert (deleted.data.deleted, deleted.data.status) == (True, SubscriptionStatus.CANCELED)
    refund = parse_verified_event(_stripe("charge.refunded", {"id": "ch_1", "amount": "100"}))
    assert refund.data == ChargeRefunded("ch_1", None, None, None)
    assert parse_verified_event(_stripe("customer.tax_id.created", {"id": "txi_1"})).data is None
    with pytest.raises(InvalidInput):
        parse_verified_event(b'{"id": "evt_1"}')


def _delivery(event: str, payload: dict[str, object], secret: str = "s3cret") -> WebhookDelivery:
    body = json.dumps(payload).encode()
    return WebhookDelivery(event, "d-1", sign(secret, body), body)


def test_github_deliveries_are_verified_and_decoded_into_typed_events() -> None:
    hooks = GitHubWebhooks()
    push = _delivery("push", push_event())

    assert hooks.read_envelope(push).repository == HostRepositoryRef(REPO_ID, FULL_NAME)
    assert hooks.verifies(push, ["other", "s3cret"])
    assert not hooks.verifies(push, ["other"])
    assert hooks.decode(push) == PushDelivered(
        ref="refs/heads/main",
        after="0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c",
        deleted=False,
        pushed_at=datetime.fromtimestamp(1764504000, UTC),
    )
    pull = hooks.decode(_delivery("pull_request", pull_request_event("closed", state="closed", merged=True)))
    assert isinstance(pull, PullRequestDelivered)
    assert pull.pull_request is not None
    assert pull.pull_request.state is PullRequestState.MERGED
    edited = member_event("edited") | {"changes": {"permission": {"to": "maintain"}}}
    assert hooks.decode(_delivery("member", edited)) == MemberChanged(
        "edited", "octocat", Permission.WRITE, github_user_id=583231
    )
    removed = hooks.decode(_delivery("installation_repositories", installation_repositories_event()))
    assert removed == RepositoriesRemoved("removed", (HostRepositoryRef(REPO_ID, FULL_NAME),))
    assert (
        hooks.decode(_delivery("ping", {"zen": "Keep it logically awesome.", "hook_id": 1}))
        == PingDelivered()
    )
    assert hooks.decode(_delivery("star", {"action": "created"})) is None


def test_a_github_delivery_without_a_signature_or_of_the_wrong_shape_is_refused() -> None:
    hooks = GitHubWebhooks()
    body = json.dumps(push_event()).encode()
    with pytest.raises(InvalidInput) as missing:
        hooks.read_envelope(WebhookDelivery("push", "d-1", "sha1=abc", body))
    assert missing.value.code == "webhook_signature_missing"
    with pytest.raises(InvalidInput) as invalid:
        hooks.decode(_delivery("push", {"ref": 7}))
    assert invalid.value.code == "webhook_payload_invalid"
