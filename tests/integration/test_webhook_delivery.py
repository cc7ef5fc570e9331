"""Outbound webhook delivery over real HTTP to a local receiver: signatures a receiver can verify, the checked
address pinned, production refusing a DNS answer that changed to 127.0.0.1, failures recorded; and on
PostgreSQL, a task's whole life delivered once per event id across a worker crash and concurrent workers."""

from __future__ import annotations

import asyncio
import dataclasses
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from asynccoder.adapters.memory.store import InMemoryStore
from asynccoder.adapters.memory.uow import InMemoryUnitOfWork
from asynccoder.adapters.outbound_webhooks.http_sender import HttpxWebhookSender, webhook_http_client
from asynccoder.adapters.sqlalchemy.uow import SqlAlchemyUnitOfWork
from asynccoder.adapters.sqlalchemy.webhook_endpoints_tables import webhook_events
from asynccoder.application.outbound_webhooks.endpoints import (
    ListWebhookDeliveries,
    ListWebhookDeliveriesQuery,
    WebhookPolicy,
)
from asynccoder.application.ports.outbound_webhooks import WebhookRequest, WebhookResponse, WebhookSender
from asynccoder.domain.webhook_endpoints import DeliveryStatus
from tests.support.builders import T0
from tests.support.system import ManualClock
from tests.support.task_engine import EngineWorld, ScriptedTaskRunner, sequential_ids
from tests.support.webhooks import ScriptedHostResolver, WebhookKit, WebhookReceiver


@pytest.fixture
def receiver() -> AsyncIterator[WebhookReceiver]:
    server = WebhookReceiver()
    yield server
    server.close()


@pytest.fixture
async def http_client() -> AsyncIterator[httpx.AsyncClient]:
    async with webhook_http_client() as client:
        yield client


async def _memory_world() -> EngineWorld:
    store = InMemoryStore()
    world = EngineWorld(lambda: InMemoryUnitOfWork(store), ManualClock(T0), ids=sequential_ids())
    await world.seed()
    return world


async def test_the_receiver_gets_a_signed_delivery_at_the_checked_address(
    receiver: WebhookReceiver, http_client: httpx.AsyncClient
) -> None:
    world = await _memory_world()
    port = receiver.url.split(":")[2].split("/")[0]
    resolver = ScriptedHostResolver({"receiver.test": ["127.0.0.1"]})
    kit = WebhookKit(
        world.new_uow, world.clock, world.ids, resolver=resolver, sender=HttpxWebhookSender(http_client)
    )
    user, repo = await world.user_with_repository()
    created = await kit.register(
        user, f"http://127.0.0.1:{port}/hooks/asynccoder", event_types=("task.queued",)
    )
    # A name the system resolver does not know (development allows http only for loopback URLs, so it is
    # set directly): only the pinned address can reach the receiver.
    async with world.new_uow() as uow:
        await uow.webhook_endpoints.update(
            dataclasses.replace(created.endpoint, url=f"http://receiver.test:{port}/hooks/asynccoder")
        )
        await uow.commit()
    submitted = await world.submit(user, repo)
    assert await kit.deliver()("w1") == 1
    [request] = receiver.requests
    assert request.path == "/hooks/asynccoder"
    assert request.headers["host"] == f"receiver.test:{port}"
    assert request.headers["content-type"] == "application/json"
    assert receiver.verified(request, created.secret)
    body = receiver.bodies()[0]
    assert (body["type"], body["object"]["id"], body["id"]) == (
        "task.queued",
        str(submitted.task.id),
        request.headers["webhook-id"],
    )
    assert int(request.headers["webhook-timestamp"]) == int(world.clock.now().timestamp())


async def test_production_refuses_to_send_when_the_dns_answer_changed_to_loopback(
    receiver: WebhookReceiver, http_client: httpx.AsyncClient
) -> None:
    world = await _memory_world()
    resolver = ScriptedHostResolver({"hooks.example.com": ["93.184.216.34"]})
    kit = WebhookKit(
        world.new_uow,
        world.clock,
        world.ids,
        policy=WebhookPolicy(production=True),
        resolver=resolver,
        sender=HttpxWebhookSender(http_client),
    )
    user, repo = await world.user_with_repository()
    created = await kit.register(user, "https://hooks.example.com/in", event_types=("task.queued",))
    resolver.answers["hooks.example.com"] = ["127.0.0.1"]  # rebinding after the check at create time
    await world.submit(user, repo)
    assert await kit.deliver()("w1") == 1
    assert receiver.requests == []
    page = await ListWebhookDeliveries(world.new_uow())(
        ListWebhookDeliveriesQuery(user.as_actor(), created.endpoint.id)
    )
    [delivery] = page.items
    [attempt] = delivery.attempts
    assert attempt.status_code is None
    assert attempt.error == "refused: the host resolves to a non-public address"
    assert delivery.status is DeliveryStatus.PENDING  # retried later, in case DNS is fixed


async def test_a_failing_receiver_attempt_records_its_status_and_duration(
    receiver: WebhookReceiver, http_client: httpx.AsyncClient
) -> None:
    world = await _memory_world()
    receiver.status = 500
    kit = WebhookKit(world.new_uow, world.clock, world.ids, sender=HttpxWebhookSender(http_client))
    user, repo = await world.user_with_repository()
    created = await kit.register(user, receiver.url, event_types=("task.queued",))
    await world.submit(user, repo)
    await kit.deliver()("w1")
    page = await ListWebhookDeliveries(world.new_uow())(
        ListWebhookDeliveriesQuery(user.as_actor(), created.endpoint.id)
    )
    [attempt] = page.items[0].attempts
    assert (attempt.status_code, attempt.error) == (500, None)
    assert attempt.duration_ms >= 0
    assert len(receiver.requests) == 1


# --- PostgreSQL: a worker crash and concurrent workers --------------------------------------------------


class WorkerCrashed(Exception):
    """Stands for the process dying: raised after the request reached the receiver, before it is recorded."""


@dataclass
class CrashingSender(WebhookSender):
    inner: WebhookSender
    crash_on: int
    sent: int = 0

    async def send(self, request: WebhookRequest) -> WebhookResponse:
        response = await self.inner.send(request)
        self.sent += 1
        if self.sent == self.crash_on:
            raise WorkerCrashed()
        return response


async def _drain(kit: WebhookKit, worker_id: str) -> None:
    while await kit.deliver()(worker_id):
        pass


async def test_a_tasks_life_reaches_the_receiver_once_per_event_across_a_worker_crash(
    postgres_engine: AsyncEngine, receiver: WebhookReceiver, http_client: httpx.AsyncClient
) -> None:
    clock = ManualClock(T0)
    world = EngineWorld(lambda: SqlAlchemyUnitOfWork(postgres_engine), clock, ids=sequential_ids())
    await world.seed()
    user, repo = await world.user_with_repository()
    sender = HttpxWebhookSender(http_client)
    kit = WebhookKit(world.new_uow, clock, world.ids, sender=sender)
    created = await kit.register(user, receiver.url)
    receiver.secrets.append(created.secret)
    world.script_answers(1)
    done = await world.submit(user, repo)
    await world.worker(ScriptedTaskRunner()).run_one()
    cancelled = await world.submit(user, repo)
    await world.cancel_use_case()(user.as_actor(), cancelled.task.id)

    crashing = WebhookKit(world.new_uow, clock, world.ids, sender=CrashingSender(sender, crash_on=2))
    with pytest.raises(WorkerCrashed):
        await crashing.deliver()(
            "crashed"
        )  # sent two, recorded one: the second stays leased to the dead worker
    assert len(receiver.requests) == 2
    concurrent = WebhookKit(
        world.new_uow, clock, world.ids, policy=WebhookPolicy(production=False, batch_size=1), sender=sender
    )
    await asyncio.gather(_drain(concurrent, "w2"), _drain(concurrent, "w3"), _drain(concurrent, "w4"))
    assert len(receiver.requests) == 5  # everything but the leased delivery
    clock.advance(kit.policy.lease + timedelta(seconds=1))
    await asyncio.gather(_drain(concurrent, "w2"), _drain(concurrent, "w3"), _drain(concurrent, "w4"))

    async with postgres_engine.connect() as conn:
        outbox = {str(row.id): row.type for row in await conn.execute(webhook_events.select())}
    received = Counter(receiver.event_ids())
    assert set(received) == set(outbox)
    assert sorted(outbox.values()) == sorted(
        ["task.queued", "task.started", "task.succeeded", "task.queued", "task.cancelled"]
    )
    # Only the request in flight when the worker died came twice (same webhook-id: the receiver dedupes).
    assert sorted(received.values()) == [1, 1, 1, 1, 2]
    assert all(receiver.verified(r, created.secret) for r in receiver.requests)
    bodies = {b["id"]: b for b in receiver.bodies()}
    assert {(b["type"], b["object"]["id"]) for b in bodies.values()} == {
        ("task.queued", str(done.task.id)),
        ("task.started", str(done.task.id)),
        ("task.succeeded", str(done.task.id)),
        ("task.queued", str(cancelled.task.id)),
        ("task.cancelled", str(cancelled.task.id)),
    }


async def test_concurrent_workers_on_postgresql_never_send_one_delivery_twice(
    postgres_engine: AsyncEngine, receiver: WebhookReceiver, http_client: httpx.AsyncClient
) -> None:
    clock = ManualClock(T0)
    world = EngineWorld(lambda: SqlAlchemyUnitOfWork(postgres_engine), clock, ids=sequential_ids())
    await world.seed()
    policy = WebhookPolicy(production=False, batch_size=2)
    kit = WebhookKit(world.new_uow, clock, world.ids, policy=policy, sender=HttpxWebhookSender(http_client))
    for _ in range(6):
        user, repo = await world.user_with_repository()
        await kit.register(user, receiver.url)
        await kit.register(user, receiver.url)  # two endpoints: two deliveries per event
        for _ in range(2):
            submitted = await world.submit(user, repo)
            await world.cancel_use_case()(user.as_actor(), submitted.task.id)
    await asyncio.gather(*(_drain(kit, f"w{i}") for i in range(5)))
    async with postgres_engine.connect() as conn:
        events = len((await conn.execute(webhook_events.select())).all())
    assert events == 6 * 2 * 2
    deliveries = Counter((r.headers["webhook-id"], r.headers["webhook-signature"]) for r in receiver.requests)
    assert len(receiver.requests) == events * 2
    assert set(deliveries.values()) == {1}
