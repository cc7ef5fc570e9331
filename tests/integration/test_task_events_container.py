"""The composition root's live-events wiring on each transport: what the API and a worker process build."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest
from dishka import Provider, Scope, provide

from asynccoder.adapters.memory.stream_slots import InMemoryStreamSlots
from asynccoder.adapters.redis.stream_slots import RedisStreamSlots
from asynccoder.application.ports.events import StreamSlots, TaskEventAccess, TaskEventNotifier
from asynccoder.application.tasks.streaming import OpenTaskEventStream, TaskEventReader
from asynccoder.ioc.core import make_container
from asynccoder.ioc.events import TaskEventsProvider
from asynccoder.ioc.settings import Settings
from tests.support.app import make_settings
from tests.support.services import redis_url, scratch_postgres_database
from tests.support.task_events import InMemoryTaskEventRepository, OwnedTasks


class EngineStandIn(Provider):
    """What the task engine's provider will contribute."""

    @provide(scope=Scope.APP)
    def reader(self) -> TaskEventReader:
        return InMemoryTaskEventRepository()

    @provide(scope=Scope.APP)
    def access(self) -> TaskEventAccess:
        return OwnedTasks()


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    with scratch_postgres_database("asynccoder_events_ioc") as url:
        yield url


async def _roundtrip(settings: Settings) -> tuple[object, object]:
    """A notification from one container (a worker) reaches a listener of another (an API process)."""
    worker = make_container(settings, TaskEventsProvider(), EngineStandIn())
    api = make_container(settings, TaskEventsProvider(), EngineStandIn())
    try:
        task = uuid.uuid4()
        listener = (await api.get(TaskEventNotifier)).listen(task)  # type: ignore[type-abstract]
        assert await asyncio.wait_for(anext(listener), 10) == 0
        await (await worker.get(TaskEventNotifier)).notify(task, 3)  # type: ignore[type-abstract]
        assert await asyncio.wait_for(anext(listener), 10) == 3
        async with api() as request:
            assert isinstance(await request.get(OpenTaskEventStream), OpenTaskEventStream)
        slots = await api.get(StreamSlots)  # type: ignore[type-abstract]
        return type(await api.get(TaskEventNotifier)), type(slots)  # type: ignore[type-abstract]
    finally:
        await worker.close()
        await api.close()


async def test_the_embedded_default_notifies_in_process() -> None:
    settings = make_settings()
    container = make_container(settings, TaskEventsProvider(), EngineStandIn())
    try:
        notifier = await container.get(TaskEventNotifier)  # type: ignore[type-abstract]
        task = uuid.uuid4()
        listener = notifier.listen(task)
        assert await asyncio.wait_for(anext(listener), 10) == 0
        await notifier.notify(task, 1)
        assert await asyncio.wait_for(anext(listener), 10) == 1
        assert isinstance(await container.get(StreamSlots), InMemoryStreamSlots)  # type: ignore[type-abstract]
    finally:
        await container.close()


@pytest.mark.redis
async def test_with_redis_two_containers_share_notifications_and_stream_slots() -> None:
    _, slots = await _roundtrip(make_settings(redis_url=redis_url()))
    assert slots is RedisStreamSlots


@pytest.mark.postgres
async def test_with_postgres_notify_two_containers_share_notifications(postgres_url: str) -> None:
    _, slots = await _roundtrip(make_settings(database_url=postgres_url, task_events_backend="postgres"))
    assert slots is InMemoryStreamSlots  # no Redis: the cap is per process
