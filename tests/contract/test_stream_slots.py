"""StreamSlots contract: in memory and in Redis (shared by API processes)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from asynccoder.adapters.memory.stream_slots import InMemoryStreamSlots
from asynccoder.adapters.redis.stream_slots import RedisStreamSlots
from asynccoder.adapters.system.clock import SystemClock
from asynccoder.application.ports.events import StreamSlots
from asynccoder.domain.errors import Unavailable
from tests.support.services import redis_url, unavailable

LEASE = 60


@pytest.fixture(params=["memory", "redis"])
async def slots(request: pytest.FixtureRequest) -> AsyncIterator[StreamSlots]:
    if request.param == "memory":
        yield InMemoryStreamSlots(SystemClock())
        return
    client = Redis.from_url(redis_url(), socket_connect_timeout=2)
    try:
        await client.ping()
    except (RedisConnectionError, OSError) as exc:
        await client.aclose()
        unavailable("Redis", str(exc))
    prefix = f"test-{uuid.uuid4().hex}"
    yield RedisStreamSlots(client, prefix=prefix)
    keys = [k async for k in client.scan_iter(match=f"{prefix}:*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


async def test_at_most_limit_slots_are_taken(slots: StreamSlots) -> None:
    user = uuid.uuid4()
    taken = [await slots.acquire(user, uuid.uuid4(), limit=3, lease_seconds=LEASE) for _ in range(5)]

    assert taken == [True, True, True, False, False]
    assert await slots.count(user) == 3


async def test_a_released_slot_can_be_taken_again_and_release_is_idempotent(slots: StreamSlots) -> None:
    user, first, second = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    assert await slots.acquire(user, first, limit=1, lease_seconds=LEASE)
    assert not await slots.acquire(user, second, limit=1, lease_seconds=LEASE)

    await slots.release(user, first)
    await slots.release(user, first)

    assert await slots.count(user) == 0
    assert await slots.acquire(user, second, limit=1, lease_seconds=LEASE)


async def test_taking_the_same_slot_again_does_not_count_twice(slots: StreamSlots) -> None:
    user, slot = uuid.uuid4(), uuid.uuid4()
    assert await slots.acquire(user, slot, limit=1, lease_seconds=LEASE)
    assert await slots.acquire(user, slot, limit=1, lease_seconds=LEASE)

    assert await slots.count(user) == 1


async def test_users_do_not_share_slots(slots: StreamSlots) -> None:
    ada, bob = uuid.uuid4(), uuid.uuid4()
    assert await slots.acquire(ada, uuid.uuid4(), limit=1, lease_seconds=LEASE)

    assert await slots.acquire(bob, uuid.uuid4(), limit=1, lease_seconds=LEASE)
    assert await slots.count(ada) == 1
    assert await slots.count(bob) == 1


async def test_a_slot_nobody_renews_expires(slots: StreamSlots) -> None:
    user = uuid.uuid4()
    assert await slots.acquire(user, uuid.uuid4(), limit=1, lease_seconds=1)  # a crashed process's slot

    deadline = time.monotonic() + 10
    while await slots.count(user) != 0:
        assert time.monotonic() < deadline, "the lease never ran out"
        await asyncio.sleep(0.05)
    assert await slots.acquire(user, uuid.uuid4(), limit=1, lease_seconds=LEASE)


async def test_a_renewed_slot_outlives_its_first_lease(slots: StreamSlots) -> None:
    user, slot = uuid.uuid4(), uuid.uuid4()
    assert await slots.acquire(user, slot, limit=1, lease_seconds=1)
    await slots.renew(user, slot, lease_seconds=LEASE)
    witness = uuid.uuid4()  # another user's unrenewed one-second slot shows when a second has passed
    assert await slots.acquire(witness, uuid.uuid4(), limit=1, lease_seconds=1)

    deadline = time.monotonic() + 10
    while await slots.count(witness) != 0:
        assert time.monotonic() < deadline, "the witness lease never ran out"
        await asyncio.sleep(0.05)

    assert await slots.count(user) == 1


async def test_renewing_a_released_slot_does_not_bring_it_back(slots: StreamSlots) -> None:
    user, slot = uuid.uuid4(), uuid.uuid4()
    assert await slots.acquire(user, slot, limit=1, lease_seconds=LEASE)
    await slots.release(user, slot)

    await slots.renew(user, slot, lease_seconds=LEASE)

    assert await slots.count(user) == 0


async def test_concurrent_acquires_never_exceed_the_limit(slots: StreamSlots) -> None:
    user = uuid.uuid4()

    taken = await asyncio.gather(
        *(slots.acquire(user, uuid.uuid4(), limit=5, lease_seconds=LEASE) for _ in range(40))
    )

    assert sum(taken) == 5
    assert await slots.count(user) == 5


async def test_redis_down_refuses_new_streams_instead_of_uncapping_them() -> None:
    dead = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    slots = RedisStreamSlots(dead, prefix="test")
    try:
        with pytest.raises(Unavailable):
            await slots.acquire(uuid.uuid4(), uuid.uuid4(), limit=5, lease_seconds=LEASE)
        await slots.release(uuid.uuid4(), uuid.uuid4())  # frees nothing, raises nothing: the lease expires
    finally:
        await dead.aclose()
