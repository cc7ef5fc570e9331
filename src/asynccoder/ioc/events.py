"""Live task events: the notifier (memory, Redis or PostgreSQL channels backend), stream slots and the SSE
event source.

``TaskEventsProvider`` needs two things from the task engine's provider: a ``TaskEventReader`` (the event
repository's read side; APP scope, one short read per call, since a stream lives for minutes) and a
``TaskEventAccess`` (owner or admin may watch). The worker process uses the same ``TaskEventNotifier``
provider to publish: the notifier drives the channels backend itself, no HTTP app needed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from dishka import Provider, Scope, provide
from litestar.channels.backends.base import ChannelsBackend
from redis.asyncio import Redis

from asynccoder.adapters.channels.backends import memory_backend, postgres_backend, redis_backend
from asynccoder.adapters.channels.notifier import ChannelsTaskEventNotifier
from asynccoder.adapters.memory.stream_slots import InMemoryStreamSlots
from asynccoder.adapters.redis.stream_slots import RedisStreamSlots
from asynccoder.application.ports.events import StreamSlots, TaskEventAccess, TaskEventNotifier
from asynccoder.application.ports.system import Clock, IdGenerator
from asynccoder.application.tasks.streaming import OpenTaskEventStream, StreamSettings, TaskEventReader
from asynccoder.ioc.settings import Settings


class TaskEventsProvider(Provider):
    """Notification fan-out and the per-user stream cap, chosen by ``Settings.task_events_transport``."""

    @provide(scope=Scope.APP)
    async def notifier(self, settings: Settings) -> AsyncIterator[TaskEventNotifier]:
        transport = settings.task_events_transport
        pubsub_client: Redis | None = None
        backend: ChannelsBackend
        if transport == "redis":
            if settings.redis_url is None:
                raise ValueError("task events on Redis need REDIS_URL")
            # Its own client: a pub/sub connection blocks on reads and must not share the command pool's
            # socket timeout.
            pubsub_client = Redis.from_url(settings.redis_url, socket_connect_timeout=2)
            backend = redis_backend(pubsub_client)
        elif transport == "postgres":
            backend = postgres_backend(settings.database_url)
        else:
            backend = memory_backend()
        coalesce_seconds = settings.task_events_coalesce_ms / 1000
        notifier = ChannelsTaskEventNotifier(backend, coalesce_seconds=coalesce_seconds)
        try:
            async with notifier:
                yield notifier
        finally:
            if pubsub_client is not None:
                await pubsub_client.aclose()

    @provide(scope=Scope.APP)
    def stream_slots(self, clock: Clock, redis: Redis | None) -> StreamSlots:
        if redis is not None:
            return RedisStreamSlots(redis, prefix="asynccoder")
        return InMemoryStreamSlots(clock)

    @provide(scope=Scope.APP)
    def stream_settings(self, settings: Settings) -> StreamSettings:
        return StreamSettings(
            max_streams_per_user=settings.event_streams_per_user,
            heartbeat_seconds=settings.event_stream_heartbeat_seconds,
        )

    @provide(scope=Scope.REQUEST)
    def open_stream(
        self,
        reader: TaskEventReader,
        notifier: TaskEventNotifier,
        access: TaskEventAccess,
        slots: StreamSlots,
        clock: Clock,
        ids: IdGenerator,
        stream_settings: StreamSettings,
    ) -> OpenTaskEventStream:
        return OpenTaskEventStream(reader, notifier, access, slots, clock, ids, stream_settings)
