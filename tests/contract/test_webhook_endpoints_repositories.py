"""Contract of the webhook endpoint and outbox repositories, on every adapter."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from asynccoder.domain.identity import User
from asynccoder.domain.webhook_endpoints import (
    DeliveryAttempt,
    DeliveryStatus,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
    WebhookEventType,
    event_id,
)
from tests.contract.conftest import UowFactory
from tests.support.builders import T0, make_user, new_id


def _endpoint(user: User, **changes: object) -> WebhookEndpoint:
    values: dict[str, object] = {
        "id": new_id(),
        "user_id": user.id,
        "url": "https://hooks.example.com/in",
        "event_types": (WebhookEventType.TASK_SUCCEEDED,),
        "enabled": True,
        "sealed_secret": "v1.k1.sealed",
        "created_at": T0,
        "updated_at": T0,
    }
    values.update(changes)
    return WebhookEndpoint(**values)  # type: ignore[arg-type]


async def _users(new_uow: UowFactory, count: int = 2) -> list[User]:
    users = [make_user() for _ in range(count)]
    async with new_uow() as uow:
        for user in users:
            await uow.users.add(user)
        await uow.commit()
    return users


async def _event_with_delivery(new_uow: UowFactory, endpoint: WebhookEndpoint, key: str) -> WebhookDelivery:
    event = WebhookEvent(event_id(T0, key), endpoint.user_id, WebhookEventType.TASK_SUCCEEDED, T0, '{"a":1}')
    delivery = WebhookDelivery(
        id=event_id(T0, f"d:{key}"),
        endpoint_id=endpoint.id,
        event_id=event.id,
        event_type=event.type,
        status=DeliveryStatus.PENDING,
        next_attempt_at=T0,
        created_at=T0,
    )
    async with new_uow() as uow:
        assert await uow.webhook_outbox.add_event(event)
        await uow.webhook_outbox.add_delivery(delivery)
        await uow.commit()
    return delivery


async def test_endpoints_round_trip_and_are_scoped_to_their_owner(uow_factory: UowFactory) -> None:
    owner, stranger = await _users(uow_factory)
    endpoint = _endpoint(
        owner,
        credits_low_threshold=50,
        sealed_previous_secret="v1.k1.old",
        previous_secret_expires_at=T0 + timedelta(hours=24),
    )
    async with uow_factory() as uow:
        await uow.webhook_endpoints.add(endpoint)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.webhook_endpoints.get(endpoint.id, user_id=owner.id) == endpoint
        assert await uow.webhook_endpoints.get(endpoint.id, user_id=stranger.id) is None
        assert not await uow.webhook_endpoints.delete(endpoint.id, user_id=stranger.id)
        changed = dataclasses.replace(endpoint, url="https://other.example.com/x", event_types=())
        await uow.webhook_endpoints.update(dataclasses.replace(changed, user_id=stranger.id))
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.webhook_endpoints.get(endpoint.id) == endpoint  # a stranger's update changed nothing
        await uow.webhook_endpoints.update(changed)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.webhook_endpoints.get(endpoint.id) == changed


async def test_endpoints_list_newest_first_in_pages(uow_factory: UowFactory) -> None:
    [owner] = await _users(uow_factory, 1)
    endpoints = [_endpoint(owner) for _ in range(3)]
    async with uow_factory() as uow:
        for endpoint in endpoints:
            await uow.webhook_endpoints.add(endpoint)
        await uow.commit()
    async with uow_factory() as uow:
        first = await uow.webhook_endpoints.list_for_user(owner.id, limit=2, before=None)
        rest = await uow.webhook_endpoints.list_for_user(owner.id, limit=2, before=first[-1].id)
    assert [e.id for e in first + rest] == [e.id for e in reversed(endpoints)]


async def test_disable_is_conditional_and_disabled_endpoints_are_not_listed_as_enabled(
    uow_factory: UowFactory,
) -> None:
    [owner] = await _users(uow_factory, 1)
    endpoint = _endpoint(owner)
    async with uow_factory() as uow:
        await uow.webhook_endpoints.add(endpoint)
        assert await uow.webhook_endpoints.disable(endpoint.id, reason="delivery_failures", at=T0)
        assert not await uow.webhook_endpoints.disable(endpoint.id, reason="delivery_failures", at=T0)
        assert await uow.webhook_endpoints.list_enabled(owner.id) == []
        stored = await uow.webhook_endpoints.get(endpoint.id)
    assert stored is not None
    assert (stored.enabled, stored.disabled_reason) == (False, "delivery_failures")


async def test_an_event_is_stored_once_per_id(uow_factory: UowFactory) -> None:
    [owner] = await _users(uow_factory, 1)
    event = WebhookEvent(event_id(T0, "k"), owner.id, WebhookEventType.CREDITS_LOW, T0, '{"x":"é"}')
    async with uow_factory() as uow:
        assert await uow.webhook_outbox.add_event(event)
        assert not await uow.webhook_outbox.add_event(dataclasses.replace(event, body="{}"))
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.webhook_outbox.get_event(event.id) == event


async def test_a_claim_is_a_lease_only_its_holder_can_complete(uow_factory: UowFactory) -> None:
    [owner] = await _users(uow_factory, 1)
    endpoint = _endpoint(owner)
    async with uow_factory() as uow:
        await uow.webhook_endpoints.add(endpoint)
        await uow.commit()
    delivery = await _event_with_delivery(uow_factory, endpoint, "one")
    lease = T0 + timedelta(seconds=60)
    async with uow_factory() as uow:
        assert await uow.webhook_outbox.claim_due("a", T0 - timedelta(seconds=1), lease, 10) == []  # not due
        [claimed] = await uow.webhook_outbox.claim_due("a", T0, lease, 10)
        assert (claimed.id, claimed.claimed_by, claimed.claimed_until) == (delivery.id, "a", lease)
        assert await uow.webhook_outbox.claim_due("b", T0 + timedelta(seconds=59), lease, 10) == []
        await uow.commit()
    attempt = DeliveryAttempt(T0, 500, 12, None)
    async with uow_factory() as uow:
        [taken] = await uow.webhook_outbox.claim_due(
            "b", lease + timedelta(seconds=1), lease + timedelta(seconds=120), 10
        )
        assert taken.claimed_by == "b"
        assert not await uow.webhook_outbox.complete_attempt(
            delivery.id, "a", attempt, DeliveryStatus.PENDING, T0
        )
        retry_at = T0 + timedelta(minutes=5)
        assert await uow.webhook_outbox.complete_attempt(
            delivery.id, "b", attempt, DeliveryStatus.PENDING, retry_at
        )
        await uow.commit()
    async with uow_factory() as uow:
        stored = await uow.webhook_outbox.get_delivery(delivery.id)
    assert stored is not None
    assert (stored.status, stored.attempts, stored.next_attempt_at, stored.claimed_by) == (
        DeliveryStatus.PENDING,
        (attempt,),
        retry_at,
        None,
    )


async def test_deliveries_of_disabled_endpoints_are_not_claimed_and_deleting_drops_them(
    uow_factory: UowFactory,
) -> None:
    [owner] = await _users(uow_factory, 1)
    endpoint = _endpoint(owner)
    async with uow_factory() as uow:
        await uow.webhook_endpoints.add(endpoint)
        await uow.commit()
    deliveries = [await _event_with_delivery(uow_factory, endpoint, f"k{i}") for i in range(3)]
    async with uow_factory() as uow:
        await uow.webhook_endpoints.disable(endpoint.id, reason="delivery_failures", at=T0)
        assert await uow.webhook_outbox.claim_due("a", T0, T0 + timedelta(minutes=1), 10) == []
        first = await uow.webhook_outbox.list_for_endpoint(endpoint.id, limit=2, before=None)
        rest = await uow.webhook_outbox.list_for_endpoint(endpoint.id, limit=2, before=first[-1].id)
        assert {d.id for d in first + rest} == {d.id for d in deliveries}
        assert [d.id for d in first + rest] == sorted((d.id for d in deliveries), reverse=True)
        assert await uow.webhook_endpoints.delete(endpoint.id, user_id=owner.id)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.webhook_outbox.get_delivery(deliveries[0].id) is None
        assert await uow.webhook_endpoints.get(endpoint.id) is None
