"""The task event notifier on each channels backend: coalescing, fan-out to independent instances (as two
processes would be) on real Redis and real PostgreSQL, and what a notification costs on the wire."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack
from typing import Any

import psycopg
import pytest
from litestar.channels.backends.base import ChannelsBackend
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from asynccoder.adapters.channels.backends import (
    memory_backend,
    postgres_backend,
    postgres_dsn,
    redis_backend,
)
from asynccoder.adapters.channels.notifier import ChannelsTaskEventNotifier
from tests.support.services import redis_url, scratch_postgres_database, unavailable

BackendFactory = Callable[[], Awaitable[ChannelsBackend]]


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    with scratch_postgres_database("asynccoder_events") as url:
        yield url


@pytest.fixture
async def redis_reachable() -> None:
    probe = Redis.from_url(redis_url(), socket_connect_timeout=2)
    try:
        await probe.ping()
    except (RedisConnectionError, OSError) as exc:
        unavailable("Redis", str(exc))
    finally:
        await probe.aclose()


@pytest.fixture
async def redis_clients(redis_reachable: None) -> AsyncIterator[Callable[[], Redis]]:
    clients: list[Redis] = []

    def make() -> Redis:
        client = Redis.from_url(redis_url(), socket_connect_timeout=2)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


@pytest.fixture
def channel() -> str:
    # Pub/sub channels are server-wide (not per Redis database): one per test keeps tests apart.
    return f"test_task_events_{uuid.uuid4().hex[:12]}"


@pytest.fixture(params=["redis", "postgres"])
def shared_backend(request: pytest.FixtureRequest) -> BackendFactory:
    """Independent backend instances on one broker: each one is what a separate process would have."""
    if request.param == "redis":
        make_client = request.getfixturevalue("redis_clients")

        async def redis() -> ChannelsBackend:
            return redis_backend(make_client())

        return redis
    url = request.getfixturevalue("postgres_url")

    async def postgres() -> ChannelsBackend:
        return postgres_backend(url)

    return postgres


async def first_value(iterator: AsyncIterator[int]) -> int:
    return await asyncio.wait_for(anext(iterator), 10)


async def next_at_least(iterator: AsyncIterator[int], seq: int) -> int:
    async def wait() -> int:
        while True:
            value = await anext(iterator)
            if value >= seq:
                return value

    return await asyncio.wait_for(wait(), 10)


async def test_a_notification_reaches_a_listener_on_another_instance(
    shared_backend: BackendFactory, channel: str
) -> None:
    task = uuid.uuid4()
    async with AsyncExitStack() as stack:
        worker = await stack.enter_async_context(
            ChannelsTaskEventNotifier(await shared_backend(), channel=channel, coalesce_seconds=0.01)
        )
        api = await stack.enter_async_context(
            ChannelsTaskEventNotifier(await shared_backend(), channel=channel, coalesce_seconds=0.01)
        )
        listener = api.listen(task)
        assert await first_value(listener) == 0  # subscribed

        await worker.notify(task, 7)

        assert await next_at_least(listener, 7) == 7
        await listener.aclose()  # type: ignore[attr-defined]


async def test_many_notifications_in_a_window_become_one_message_with_the_highest_seq(
    shared_backend: BackendFactory, channel: str
) -> None:
    task = uuid.uuid4()
    async with AsyncExitStack() as stack:
        worker = await stack.enter_async_context(
            ChannelsTaskEventNotifier(await shared_backend(), channel=channel, coalesce_seconds=0.2)
        )
        api = await stack.enter_async_context(
            ChannelsTaskEventNotifier(await shared_backend(), channel=channel, coalesce_seconds=0.2)
        )
        listener = api.listen(task)
        await first_value(listener)

        for seq in range(1, 1001):  # a chatty task: a thousand log lines at once
            await worker.notify(task, seq)

        assert await next_at_least(listener, 1) == 1000
        await listener.aclose()  # type: ignore[attr-defined]
    assert worker.messages_published == 1  # counted once stopped: the publish that delivered it has returned


async def test_listeners_only_hear_their_own_task(shared_backend: BackendFactory, channel: str) -> None:
    mine, other = uuid.uuid4(), uuid.uuid4()
    async with AsyncExitStack() as stack:
        worker = await stack.enter_async_context(
            ChannelsTaskEventNotifier(await shared_backend(), channel=channel, coalesce_seconds=0.01)
        )
        api = await stack.enter_async_context(
            ChannelsTaskEventNotifier(await shared_backend(), channel=channel, coalesce_seconds=0.01)
        )
        listener = api.listen(mine)
        await first_value(listener)

        await worker.notify(other, 50)
        await worker.notify(mine, 3)

        assert await next_at_least(listener, 1) == 3
        await listener.aclose()  # type: ignore[attr-defined]


async def test_every_listener_of_a_task_on_every_instance_is_woken(
    shared_backend: BackendFactory, channel: str
) -> None:
    task = uuid.uuid4()
    async with AsyncExitStack() as stack:
        notifiers = [
            await stack.enter_async_context(
                ChannelsTaskEventNotifier(await shared_backend(), channel=channel, coalesce_seconds=0.01)
            )
            for _ in range(3)
        ]
        listeners = [n.listen(task) for n in notifiers for _ in range(2)]
        for listener in listeners:
            await first_value(listener)

        await notifiers[0].notify(task, 4)

        assert [await next_at_least(listener, 4) for listener in listeners] == [4] * 6
        assert notifiers[1].listener_count(task) == 2
        for listener in listeners:
            await listener.aclose()  # type: ignore[attr-defined]
        assert notifiers[1].listener_count(task) == 0


async def test_hundreds_of_tasks_share_a_few_messages(shared_backend: BackendFactory, channel: str) -> None:
    tasks = [uuid.uuid4() for _ in range(250)]
    async with AsyncExitStack() as stack:
        worker = await stack.enter_async_context(
            ChannelsTaskEventNotifier(await shared_backend(), channel=channel, coalesce_seconds=0.2)
        )
        api = await stack.enter_async_context(
            ChannelsTaskEventNotifier(await shared_backend(), channel=channel, coalesce_seconds=0.2)
        )
        last = api.listen(tasks[-1])
        await first_value(last)

        for n, task in enumerate(tasks):
            await worker.notify(task, n + 1)

        assert await next_at_least(last, 1) == 250
        await last.aclose()  # type: ignore[attr-defined]
    assert worker.messages_published == 3  # at most 100 tasks per message (NOTIFY payloads < 8000 bytes)


async def test_what_is_pending_at_shutdown_is_still_published(
    shared_backend: BackendFactory, channel: str
) -> None:
    task = uuid.uuid4()
    async with ChannelsTaskEventNotifier(await shared_backend(), channel=channel) as api:
        listener = api.listen(task)
        await first_value(listener)
        async with ChannelsTaskEventNotifier(
            await shared_backend(), channel=channel, coalesce_seconds=60
        ) as worker:
            await worker.notify(task, 9)
        assert await next_at_least(listener, 9) == 9
        await listener.aclose()  # type: ignore[attr-defined]


async def test_a_thousand_notifications_cost_one_postgres_notify(postgres_url: str, channel: str) -> None:
    """Counted on the wire by a separate LISTEN connection, not by the notifier itself."""
    task = uuid.uuid4()
    async with await psycopg.AsyncConnection.connect(postgres_dsn(postgres_url), autocommit=True) as spy:
        await spy.execute(f'LISTEN "{channel}"')
        async with ChannelsTaskEventNotifier(
            postgres_backend(postgres_url), channel=channel, coalesce_seconds=0.1
        ) as worker:
            for seq in range(1, 1001):
                await worker.notify(task, seq)
        payloads: list[Any] = []
        async for note in spy.notifies(timeout=1.0):
            payloads.append(json.loads(note.payload))

    assert payloads == [{"t": {task.hex: 1000}}]


async def test_a_thousand_notifications_cost_one_redis_publish(
    redis_clients: Callable[[], Redis], channel: str
) -> None:
    task = uuid.uuid4()
    spy = redis_clients().pubsub()
    await spy.subscribe(channel)
    await spy.get_message(timeout=1)  # the subscribe confirmation
    async with ChannelsTaskEventNotifier(
        redis_backend(redis_clients()), channel=channel, coalesce_seconds=0.1
    ) as worker:
        for seq in range(1, 1001):
            await worker.notify(task, seq)
    payloads: list[Any] = []
    while (message := await spy.get_message(ignore_subscribe_messages=True, timeout=1.0)) is not None:
        payloads.append(json.loads(message["data"]))
    await spy.aclose()

    assert payloads == [{"t": {task.hex: 1000}}]


async def test_the_memory_backend_fans_out_within_the_process(channel: str) -> None:
    task = uuid.uuid4()
    async with ChannelsTaskEventNotifier(
        memory_backend(), channel=channel, coalesce_seconds=0.01
    ) as notifier:
        listener = notifier.listen(task)
        await first_value(listener)

        await notifier.notify(task, 2)
        await notifier.notify(task, 5)

        assert await next_at_least(listener, 5) == 5
        await listener.aclose()  # type: ignore[attr-defined]


async def test_a_listener_closed_before_its_first_value_never_registers(channel: str) -> None:
    async with ChannelsTaskEventNotifier(memory_backend(), channel=channel) as notifier:
        listener = notifier.listen(uuid.uuid4())
        await listener.aclose()  # type: ignore[attr-defined]

        with pytest.raises(StopAsyncIteration):
            await anext(listener)
        assert notifier.listener_count() == 0


async def test_stopping_the_notifier_ends_its_listeners(channel: str) -> None:
    notifier = ChannelsTaskEventNotifier(memory_backend(), channel=channel)
    await notifier.start()
    listener = notifier.listen(uuid.uuid4())
    await first_value(listener)
    waiting = asyncio.create_task(anext(listener))

    await notifier.stop()

    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(waiting, 5)


async def notify_until_heard(
    worker: ChannelsTaskEventNotifier, listener: AsyncIterator[int], task: uuid.UUID
) -> int:
    """Notifications sent while a subscriber reconnects are lost (pub/sub): keep notifying until one lands."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20
    seq = 100
    while loop.time() < deadline:
        seq += 1
        await worker.notify(task, seq)
        try:
            value = await asyncio.wait_for(anext(listener), 0.5)
        except TimeoutError:
            continue
        if value >= 100:
            return value
    raise AssertionError("the listener never heard a notification again")


async def test_a_subscriber_whose_redis_connection_is_killed_resubscribes(
    redis_clients: Callable[[], Redis], channel: str
) -> None:
    name = f"evtest-{uuid.uuid4().hex[:10]}"
    task = uuid.uuid4()
    admin = redis_clients()
    listening_client = Redis.from_url(redis_url(), socket_connect_timeout=2, client_name=name)
    try:
        async with AsyncExitStack() as stack:
            worker = await stack.enter_async_context(
                ChannelsTaskEventNotifier(
                    redis_backend(redis_clients()), channel=channel, coalesce_seconds=0.01
                )
            )
            api = await stack.enter_async_context(
                ChannelsTaskEventNotifier(
                    redis_backend(listening_client), channel=channel, coalesce_seconds=0.01
                )
            )
            listener = api.listen(task)
            await first_value(listener)
            await worker.notify(task, 1)
            assert await next_at_least(listener, 1) == 1

            clients = await admin.client_list()
            ids = [c["id"] for c in clients if c.get("name") == name]
            assert ids, "the subscriber's connection is not visible"
            for client_id in ids:
                await admin.execute_command("CLIENT", "KILL", "ID", client_id)

            assert await notify_until_heard(worker, listener, task) > 100
            await listener.aclose()  # type: ignore[attr-defined]
    finally:
        await listening_client.aclose()


async def test_a_subscriber_whose_postgres_connection_is_terminated_listens_again(
    postgres_url: str, channel: str
) -> None:
    name = f"evtest_{uuid.uuid4().hex[:10]}"
    task = uuid.uuid4()
    listening = postgres_backend(f"{postgres_url}?application_name={name}")  # to find its connection
    async with AsyncExitStack() as stack:
        worker = await stack.enter_async_context(
            ChannelsTaskEventNotifier(postgres_backend(postgres_url), channel=channel, coalesce_seconds=0.01)
        )
        api = await stack.enter_async_context(
            ChannelsTaskEventNotifier(listening, channel=channel, coalesce_seconds=0.01)
        )
        listener = api.listen(task)
        await first_value(listener)
        await worker.notify(task, 1)
        assert await next_at_least(listener, 1) == 1

        async with await psycopg.AsyncConnection.connect(
            postgres_dsn(postgres_url), autocommit=True
        ) as admin:
            killed = await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s", (name,)
            )
            assert [row[0] for row in await killed.fetchall()] == [True]

        assert await notify_until_heard(worker, listener, task) > 100
        await listener.aclose()  # type: ignore[attr-defined]


async def test_a_publisher_whose_postgres_connection_is_terminated_reconnects_for_the_next_message(
    postgres_url: str, channel: str
) -> None:
    name = f"evtest_{uuid.uuid4().hex[:10]}"
    task = uuid.uuid4()
    async with AsyncExitStack() as stack:
        worker = await stack.enter_async_context(
            ChannelsTaskEventNotifier(
                postgres_backend(f"{postgres_url}?application_name={name}"),
                channel=channel,
                coalesce_seconds=0.01,
            )
        )
        api = await stack.enter_async_context(
            ChannelsTaskEventNotifier(postgres_backend(postgres_url), channel=channel, coalesce_seconds=0.01)
        )
        listener = api.listen(task)
        await first_value(listener)
        await worker.notify(task, 1)
        assert await next_at_least(listener, 1) == 1
        # The listener may hear the message before the publisher's call has returned and counted it.
        deadline = asyncio.get_running_loop().time() + 5
        while worker.messages_published < 1:
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.01)
        published = worker.messages_published

        async with await psycopg.AsyncConnection.connect(
            postgres_dsn(postgres_url), autocommit=True
        ) as admin:
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s", (name,)
            )

        await worker.notify(task, 2)  # one message, on a fresh connection

        assert await next_at_least(listener, 2) == 2
        await stack.aclose()  # the publish that delivered it has returned by now
        assert worker.messages_published == published + 1
        await listener.aclose()  # type: ignore[attr-defined]
