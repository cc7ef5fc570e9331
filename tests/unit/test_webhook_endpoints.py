"""Outbound webhooks: signing, ids, the URL rule, the outbox hook on every task transition, retries with
backoff then disabling, secret rotation, replay, and the README's verification snippet."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from asynccoder.adapters.memory.store import InMemoryStore
from asynccoder.adapters.memory.uow import InMemoryUnitOfWork
from asynccoder.application.outbound_webhooks.endpoints import (
    ListWebhookDeliveries,
    ListWebhookDeliveriesQuery,
    ListWebhookEndpoints,
    ListWebhookEndpointsQuery,
    ReplayWebhookDelivery,
    RotateWebhookEndpointSecret,
    UpdateWebhookEndpoint,
    UpdateWebhookEndpointCommand,
    WebhookPolicy,
)
from asynccoder.application.outbound_webhooks.outbox import publish
from asynccoder.application.ports.outbound_webhooks import WebhookRequest, WebhookResponse
from asynccoder.domain.errors import Conflict, InvalidInput, NotFound
from asynccoder.domain.identity import User
from asynccoder.domain.tasks import FailureReason
from asynccoder.domain.webhook_endpoints import (
    RETRY_SCHEDULE,
    DeliveryStatus,
    WebhookEventType,
    event_id,
    sign,
    validate_url,
    webhook_endpoint_secret_context,
)
from tests.support.builders import T0
from tests.support.system import ManualClock
from tests.support.task_engine import EngineWorld, Fail, ScriptedTaskRunner, sequential_ids
from tests.support.webhooks import BOX, RecordingWebhookSender, ScriptedHostResolver, WebhookKit

README = Path(__file__).resolve().parents[2] / "README.md"
RECEIVER = "http://127.0.0.1:9/hooks"


@pytest.fixture
async def world() -> EngineWorld:
    store = InMemoryStore()
    w = EngineWorld(lambda: InMemoryUnitOfWork(store), ManualClock(T0), ids=sequential_ids())
    await w.seed()
    return w


@pytest.fixture
def kit(world: EngineWorld) -> WebhookKit:
    return WebhookKit(world.new_uow, world.clock, world.ids)


def _clock(world: EngineWorld) -> ManualClock:
    assert isinstance(world.clock, ManualClock)
    return world.clock


async def _deliveries(kit: WebhookKit, user: User, endpoint_id: UUID) -> list[Any]:
    page = await ListWebhookDeliveries(kit.new_uow())(
        ListWebhookDeliveriesQuery(user.as_actor(), endpoint_id, limit=100)
    )
    return page.items


async def _queue_and_cancel(world: EngineWorld, user: User, repo: Any) -> None:
    """A task.queued and a task.cancelled event (the plan allows one active task at a time)."""
    submitted = await world.submit(user, repo)
    await world.cancel_use_case()(user.as_actor(), submitted.task.id)


# --- pure rules -------------------------------------------------------------------------------------


def test_a_signature_matches_the_standard_webhooks_reference_vector() -> None:
    # The example of the Standard Webhooks specification's reference libraries.
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    signature = sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, '{"test": 2432232314}')
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_the_retry_schedule_starts_at_once_and_spans_about_a_day() -> None:
    assert RETRY_SCHEDULE[0] == timedelta(0)
    assert list(RETRY_SCHEDULE) == sorted(RETRY_SCHEDULE)
    assert timedelta(hours=24) <= sum(RETRY_SCHEDULE, timedelta()) <= timedelta(hours=30)


def test_an_event_id_is_a_uuid7_stable_for_one_fact_and_ordered_by_time() -> None:
    first = event_id(T0, "task.queued:abc:1")
    assert first.version == 7
    assert first == event_id(T0, "task.queued:abc:1")
    assert first != event_id(T0, "task.queued:abc:2")
    assert event_id(T0 + timedelta(milliseconds=1), "x") > event_id(T0, "y")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "https://127.0.0.1/hook",
        "https://10.0.0.7/hook",
        "https://169.254.169.254/latest",
        "https://localhost/hook",
        "https://[::1]/hook",
        "http://hooks.example.com/in",
    ],
)
def test_production_refuses_http_and_non_public_hosts(url: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        validate_url(url, production=True)
    assert raised.value.code == "invalid_webhook_url"


def test_development_allows_a_local_http_receiver_but_not_remote_http() -> None:
    assert validate_url("http://127.0.0.1:8080/hook", production=False) == "http://127.0.0.1:8080/hook"
    with pytest.raises(InvalidInput):
        validate_url("http://hooks.example.com/in", production=False)


# --- endpoints ----------------------------------------------------------------------------------------


async def test_production_refuses_a_public_name_that_resolves_to_a_private_address(
    world: EngineWorld,
) -> None:
    user, _ = await world.user_with_repository()
    resolver = ScriptedHostResolver({"hooks.example.com": ["93.184.216.34", "10.1.2.3"]})
    kit = WebhookKit(world.new_uow, world.clock, world.ids, WebhookPolicy(production=True), resolver)
    with pytest.raises(InvalidInput) as raised:
        await kit.register(user, "https://hooks.example.com/in")
    assert raised.value.code == "invalid_webhook_url"
    resolver.answers["hooks.example.com"] = ["93.184.216.34"]
    created = await kit.register(user, "https://hooks.example.com/in")
    assert created.endpoint.url == "https://hooks.example.com/in"


async def test_the_secret_is_returned_once_and_stored_only_encrypted(
    world: EngineWorld, kit: WebhookKit
) -> None:
    user, _ = await world.user_with_repository()
    created = await kit.register(user, RECEIVER)
    assert re.fullmatch(r"whsec_[A-Za-z0-9+/]{43}=", created.secret)
    page = await ListWebhookEndpoints(kit.new_uow())(ListWebhookEndpointsQuery(user.as_actor()))
    [stored] = page.items
    assert created.secret not in repr(stored)
    assert created.secret not in stored.sealed_secret
    assert (
        BOX.decrypt(stored.sealed_secret, context=webhook_endpoint_secret_context(stored.id, user.id))
        == created.secret
    )


async def test_another_users_endpoint_is_not_found_and_unchanged(world: EngineWorld, kit: WebhookKit) -> None:
    owner, _ = await world.user_with_repository()
    stranger, _ = await world.user_with_repository()
    created = await kit.register(owner, RECEIVER)
    update = UpdateWebhookEndpoint(kit.new_uow(), kit.clock, kit.resolver, kit.policy)
    with pytest.raises(NotFound):
        await update(UpdateWebhookEndpointCommand(stranger.as_actor(), created.endpoint.id, url=RECEIVER))
    with pytest.raises(NotFound):
        await RotateWebhookEndpointSecret(kit.new_uow(), kit.clock, BOX, kit.policy)(
            stranger.as_actor(), created.endpoint.id
        )
    async with kit.new_uow() as uow:
        assert await uow.webhook_endpoints.get(created.endpoint.id) == created.endpoint


# --- the outbox: one event per task transition ---------------------------------------------------------


async def test_every_task_transition_writes_exactly_one_event(world: EngineWorld, kit: WebhookKit) -> None:
    user, repo = await world.user_with_repository()
    await kit.register(user, RECEIVER)
    world.script_answers(1)
    first = await world.submit(user, repo)
    await world.worker(ScriptedTaskRunner()).run_one()
    second = await world.submit(user, repo)
    await world.cancel_use_case()(user.as_actor(), second.task.id)
    assert await kit.deliver()("w1") == 5
    sent = [json.loads(r.body) for r in kit.sender.sent]  # type: ignore[attr-defined]
    # Deliveries are not ordered (as in Standard Webhooks); the clock did not move, so compare as sets.
    assert sorted((b["type"], b["object"]["id"]) for b in sent) == sorted(
        [
            ("task.queued", str(first.task.id)),
            ("task.started", str(first.task.id)),
            ("task.succeeded", str(first.task.id)),
            ("task.queued", str(second.task.id)),
            ("task.cancelled", str(second.task.id)),
        ]
    )
    assert len({b["id"] for b in sent}) == 5
    assert await kit.deliver()("w1") == 0  # nothing is sent twice


async def test_a_transient_failure_that_is_retried_emits_queued_again(
    world: EngineWorld, kit: WebhookKit
) -> None:
    user, repo = await world.user_with_repository()
    await kit.register(user, RECEIVER, event_types=("task.queued", "task.failed"))
    await world.submit(user, repo)
    await world.worker(ScriptedTaskRunner(((Fail(FailureReason.PROVIDER_ERROR, transient=True),),))).run_one()
    await kit.deliver()("w1")
    assert [json.loads(r.body)["type"] for r in kit.sender.sent] == ["task.queued", "task.queued"]  # type: ignore[attr-defined]


async def test_a_user_without_endpoints_gets_no_outbox_rows(world: EngineWorld, kit: WebhookKit) -> None:
    user, repo = await world.user_with_repository()
    await world.submit(user, repo)
    async with kit.new_uow() as uow:
        assert (
            await uow.webhook_outbox.claim_due("w", T0 + timedelta(days=1), T0 + timedelta(days=2), 10) == []
        )


async def test_credits_low_goes_only_to_endpoints_whose_threshold_was_crossed(
    world: EngineWorld, kit: WebhookKit
) -> None:
    user, _ = await world.user_with_repository()
    crossed = await kit.register(user, RECEIVER, credits_low_threshold=500)
    await kit.register(user, RECEIVER, credits_low_threshold=100)
    await kit.register(user, RECEIVER)  # no threshold: never credits.low
    async with kit.new_uow() as uow:
        event = await publish(
            uow,
            T0,
            user.id,
            WebhookEventType.CREDITS_LOW,
            {"balance": 400},
            key="entry-1",
            balance=(600, 400),
        )
        again = await publish(
            uow,
            T0,
            user.id,
            WebhookEventType.CREDITS_LOW,
            {"balance": 400},
            key="entry-1",
            balance=(600, 400),
        )
        await uow.commit()
    assert event is not None
    assert again is None
    assert await kit.deliver()("w1") == 1
    assert [d.event_id for d in await _deliveries(kit, user, crossed.endpoint.id)] == [event.id]


# --- sending ------------------------------------------------------------------------------------------


async def test_a_failing_receiver_is_retried_on_the_schedule_then_the_endpoint_is_disabled(
    world: EngineWorld,
) -> None:
    clock = _clock(world)
    sender = RecordingWebhookSender(status=500)
    kit = WebhookKit(world.new_uow, clock, world.ids, sender=sender)
    user, repo = await world.user_with_repository()
    created = await kit.register(user, RECEIVER, event_types=("task.queued",))
    await _queue_and_cancel(world, user, repo)
    for attempt, delay in enumerate(RETRY_SCHEDULE):
        clock.advance(delay - timedelta(seconds=1) if delay else timedelta(0))
        if delay:
            assert await kit.deliver()("w1") == 0, f"attempt {attempt + 1} came early"
            clock.advance(timedelta(seconds=1))
        assert await kit.deliver()("w1") == 1
    [delivery] = await _deliveries(kit, user, created.endpoint.id)
    assert delivery.status is DeliveryStatus.FAILED
    assert [a.status_code for a in delivery.attempts] == [500] * len(RETRY_SCHEDULE)
    async with kit.new_uow() as uow:
        endpoint = await uow.webhook_endpoints.get(created.endpoint.id)
    assert endpoint is not None
    assert not endpoint.enabled
    assert endpoint.disabled_reason == "delivery_failures"
    await _queue_and_cancel(world, user, repo)
    clock.advance(timedelta(days=2))
    assert await kit.deliver()("w1") == 0  # a disabled endpoint is not called


async def test_a_receiver_that_recovers_gets_the_delivery_once(world: EngineWorld) -> None:
    clock = _clock(world)
    sender = RecordingWebhookSender(status=503)
    kit = WebhookKit(world.new_uow, clock, world.ids, sender=sender)
    user, repo = await world.user_with_repository()
    created = await kit.register(user, RECEIVER, event_types=("task.queued",))
    await world.submit(user, repo)
    assert await kit.deliver()("w1") == 1
    sender.status = 200
    clock.advance(RETRY_SCHEDULE[1])
    assert await kit.deliver()("w1") == 1
    clock.advance(timedelta(days=2))
    assert await kit.deliver()("w1") == 0
    [delivery] = await _deliveries(kit, user, created.endpoint.id)
    assert delivery.status is DeliveryStatus.SUCCEEDED
    assert [a.status_code for a in delivery.attempts] == [503, 200]


async def test_after_rotation_both_secrets_sign_until_the_overlap_ends(
    world: EngineWorld, kit: WebhookKit
) -> None:
    clock = _clock(world)
    user, repo = await world.user_with_repository()
    created = await kit.register(user, RECEIVER, event_types=("task.queued",))
    rotated = await RotateWebhookEndpointSecret(kit.new_uow(), clock, BOX, kit.policy)(
        user.as_actor(), created.endpoint.id
    )
    assert rotated.secret != created.secret
    assert rotated.endpoint.previous_secret_expires_at == clock.now() + timedelta(hours=24)
    await _queue_and_cancel(world, user, repo)
    clock.advance(timedelta(hours=23))
    await _queue_and_cancel(world, user, repo)
    await kit.deliver()("w1")
    clock.advance(timedelta(hours=2))
    await _queue_and_cancel(world, user, repo)
    await kit.deliver()("w1")
    sent = kit.sender.sent  # type: ignore[attr-defined]
    signatures = [r.headers["webhook-signature"].split(" ") for r in sent]
    assert [len(s) for s in signatures] == [2, 2, 1]
    for request in sent:
        msg_id, ts = request.headers["webhook-id"], int(request.headers["webhook-timestamp"])
        assert sign(rotated.secret, msg_id, ts, request.body.decode()) in request.headers["webhook-signature"]
    assert (
        sign(
            created.secret,
            sent[2].headers["webhook-id"],
            int(sent[2].headers["webhook-timestamp"]),
            sent[2].body.decode(),
        )
        not in sent[2].headers["webhook-signature"]
    )


async def test_a_replay_sends_the_same_event_id_again(world: EngineWorld, kit: WebhookKit) -> None:
    user, repo = await world.user_with_repository()
    stranger, _ = await world.user_with_repository()
    created = await kit.register(user, RECEIVER, event_types=("task.queued",))
    await world.submit(user, repo)
    await kit.deliver()("w1")
    [original] = await _deliveries(kit, user, created.endpoint.id)
    replay = ReplayWebhookDelivery(kit.new_uow(), kit.ids, kit.clock)
    with pytest.raises(NotFound):
        await replay(stranger.as_actor(), created.endpoint.id, original.id)
    replayed = await replay(user.as_actor(), created.endpoint.id, original.id)
    assert replayed.event_id == original.event_id
    assert replayed.id != original.id
    assert await kit.deliver()("w1") == 1
    ids = [r.headers["webhook-id"] for r in kit.sender.sent]  # type: ignore[attr-defined]
    assert ids == [str(original.event_id)] * 2
    await UpdateWebhookEndpoint(kit.new_uow(), kit.clock, kit.resolver, kit.policy)(
        UpdateWebhookEndpointCommand(user.as_actor(), created.endpoint.id, url=RECEIVER, enabled=False)
    )
    with pytest.raises(Conflict):
        await replay(user.as_actor(), created.endpoint.id, original.id)


async def test_a_delivery_claimed_by_a_crashed_worker_is_sent_again_after_its_lease(
    world: EngineWorld, kit: WebhookKit
) -> None:
    clock = _clock(world)
    user, repo = await world.user_with_repository()
    await kit.register(user, RECEIVER, event_types=("task.queued",))
    await world.submit(user, repo)
    async with kit.new_uow() as uow:  # worker "a" claims, then dies before recording anything
        [claimed] = await uow.webhook_outbox.claim_due("a", clock.now(), clock.now() + kit.policy.lease, 10)
        await uow.commit()
    assert await kit.deliver()("b") == 0  # the lease holds
    clock.advance(kit.policy.lease + timedelta(seconds=1))
    assert await kit.deliver()("b") == 1
    async with kit.new_uow() as uow:
        stale = await uow.webhook_outbox.complete_attempt(
            claimed.id,
            "a",
            (await uow.webhook_outbox.get_delivery(claimed.id)).attempts[0],  # type: ignore[union-attr]
            DeliveryStatus.FAILED,
            None,
        )
    assert not stale  # the crashed worker cannot overwrite what "b" recorded


# --- the README's receiver snippet ----------------------------------------------------------------------


def _readme_verify() -> Any:
    text = README.read_text()
    section = text[text.index("## Outbound webhooks") :]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None
    namespace: dict[str, Any] = {}
    exec(compile(code.group(1), "README.md", "exec"), namespace)  # exactly the snippet users copy
    return namespace["verify"]


async def test_the_readme_snippet_verifies_a_real_signed_delivery(
    world: EngineWorld, kit: WebhookKit
) -> None:
    verify = _readme_verify()
    user, repo = await world.user_with_repository()
    created = await kit.register(user, RECEIVER, event_types=("task.queued",))
    await world.submit(user, repo)
    await kit.deliver()("w1")
    [request] = kit.sender.sent  # type: ignore[attr-defined]
    now = world.clock.now().timestamp()
    assert verify(created.secret, request.headers, request.body, now=now)
    assert not verify(created.secret, request.headers, request.body + b" ", now=now)
    assert not verify(created.secret, request.headers, request.body, now=now + 301)
    other = await kit.register(user, RECEIVER)
    assert not verify(other.secret, request.headers, request.body, now=now)


async def test_a_slow_receiver_never_lets_another_worker_send_a_delivery_twice_at_once(
    world: EngineWorld,
) -> None:
    clock = _clock(world)
    second_send = asyncio.Event()
    release = asyncio.Event()
    sent: list[str] = []

    class SlowSender(RecordingWebhookSender):
        """Each send takes 40 s (within the 10 s timeout's spirit: shorter than the 60 s lease)."""

        async def send(self, request: WebhookRequest) -> WebhookResponse:
            sent.append(request.headers["webhook-id"])
            clock.advance(timedelta(seconds=40))
            if len(self.sent) == 1:
                second_send.set()
                await release.wait()
            self.sent.append(request)
            return WebhookResponse(200, 40_000)

    class FastSender(RecordingWebhookSender):
        async def send(self, request: WebhookRequest) -> WebhookResponse:
            sent.append(request.headers["webhook-id"])
            return WebhookResponse(200, 1)

    user, repo = await world.user_with_repository()
    slow_kit = WebhookKit(world.new_uow, clock, world.ids, sender=SlowSender())
    fast_kit = WebhookKit(world.new_uow, clock, world.ids, sender=FastSender())
    await slow_kit.register(user, RECEIVER, event_types=("task.queued", "task.cancelled"))
    await _queue_and_cancel(world, user, repo)
    await world.submit(user, repo)  # three deliveries in all
    slow = asyncio.ensure_future(slow_kit.deliver()("a"))
    await second_send.wait()  # "a" is 80 s into its pass: a lease taken at its start would have expired
    assert await fast_kit.deliver()("b") == 1
    release.set()
    assert await slow == 2
    assert sorted(sent) == sorted(set(sent))
    assert len(sent) == 3
