"""The composition root's outbound-webhook wiring: the delivery loop built from the container (system
DNS resolver, httpx sender, key ring) delivers to a local receiver; ``serve``'s embedded worker runs it."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator

import pytest
from dishka import AsyncContainer, Scope

from asynccoder.adapters.outbound_webhooks.dns_resolver import SystemHostResolver
from asynccoder.application.outbound_webhooks.endpoints import (
    CreateWebhookEndpoint,
    CreateWebhookEndpointCommand,
)
from asynccoder.application.outbound_webhooks.outbox import publish
from asynccoder.application.ports.system import Clock
from asynccoder.application.ports.uow import UnitOfWork
from asynccoder.domain.webhook_endpoints import WebhookEventType
from asynccoder.entrypoints.worker import embedded_worker
from asynccoder.ioc.core import make_container
from asynccoder.ioc.settings import Settings
from asynccoder.ioc.webhook_endpoints import make_webhook_delivery_loop
from tests.support.app import make_settings
from tests.support.builders import make_user
from tests.support.databases import Databases
from tests.support.webhooks import WebhookReceiver


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    server = WebhookReceiver()
    yield server
    server.close()


async def _endpoint_with_event(container: AsyncContainer, receiver: WebhookReceiver) -> str:
    user = make_user()
    async with container(scope=Scope.REQUEST) as request:
        uow = await request.get(UnitOfWork)  # type: ignore[type-abstract]
        async with uow:
            await uow.users.add(user)
            await uow.commit()
        create = await request.get(CreateWebhookEndpoint)
        created = await create(CreateWebhookEndpointCommand(user.as_actor(), url=receiver.url))
    receiver.secrets.append(created.secret)
    async with container(scope=Scope.REQUEST) as request:
        uow = await request.get(UnitOfWork)  # type: ignore[type-abstract]
        clock = await request.get(Clock)  # type: ignore[type-abstract]
        async with uow:
            event = await publish(
                uow, clock.now(), user.id, WebhookEventType.TASK_SUCCEEDED, {"object": "task"}, key="ioc"
            )
            await uow.commit()
    assert event is not None
    return str(event.id)


async def _settings(databases: Databases, **changes: object) -> Settings:
    await databases.clean_engine("sqlite")
    return dataclasses.replace(make_settings(database_url=databases.url("sqlite")), **changes)  # type: ignore[arg-type]


async def test_the_workers_delivery_loop_from_the_container_delivers_a_signed_event(
    databases: Databases, receiver: WebhookReceiver
) -> None:
    container = make_container(await _settings(databases))
    try:
        event_id = await _endpoint_with_event(container, receiver)
        loop = make_webhook_delivery_loop(container, "w-ioc")
        assert await loop.run_once() == 1
    finally:
        await container.close()
    [request] = receiver.requests
    assert request.headers["webhook-id"] == event_id
    assert receiver.verified(request, receiver.secrets[0])


async def test_the_embedded_worker_of_serve_sends_deliveries(
    databases: Databases, receiver: WebhookReceiver
) -> None:
    settings = await _settings(databases, embedded_worker=True)
    container = make_container(settings)
    try:
        event_id = await _endpoint_with_event(container, receiver)
        async with embedded_worker(container, settings):
            deadline = asyncio.get_running_loop().time() + 20
            while not receiver.requests and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.05)
    finally:
        await container.close()
    assert receiver.event_ids() == [event_id]


async def test_the_system_resolver_returns_ip_literals_and_reads_the_hosts_file() -> None:
    resolver = SystemHostResolver()
    assert await resolver.resolve("127.0.0.1", 80) == ["127.0.0.1"]
    assert await resolver.resolve("::1", 80) == ["::1"]
    assert "127.0.0.1" in await resolver.resolve("localhost", 80)
