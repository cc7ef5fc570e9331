"""The Redis login throttle against the real server (unique key prefix per test)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from asynccoder.adapters.redis.login_throttle import RedisLoginThrottle
from asynccoder.domain.errors import Unavailable
from tests.support.services import redis_url, unavailable


@pytest.fixture
async def redis_client() -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url(), socket_connect_timeout=2)
    try:
        await client.ping()
    except (RedisConnectionError, OSError) as exc:
        await client.aclose()
        unavailable("Redis", str(exc))
    yield client
    await client.aclose()


def _throttle(client: Redis, prefix: str, **overrides: int) -> RedisLoginThrottle:
    limits = {"pair_limit": 3, "client_limit": 5, "window_seconds": 600, "account_delay_cap_seconds": 60}
    return RedisLoginThrottle(client, prefix=prefix, **{**limits, **overrides})


@pytest.fixture
async def prefix(redis_client: Redis) -> AsyncIterator[str]:
    prefix = f"test-{uuid.uuid4().hex}"
    yield prefix
    keys = [k async for k in redis_client.scan_iter(match=f"{prefix}:*")]
    if keys:
        await redis_client.delete(*keys)


@pytest.fixture
def throttle(redis_client: Redis, prefix: str) -> RedisLoginThrottle:
    return _throttle(redis_client, prefix)


async def test_one_client_on_one_account_is_blocked_after_its_limit_with_the_remaining_window(
    throttle: RedisLoginThrottle, redis_client: Redis, prefix: str
) -> None:
    for _ in range(3):
        assert await throttle.acquire(account="ada@example.com", client="10.0.0.1") == 0
        gates = [k async for k in redis_client.scan_iter(match=f"{prefix}:login:gate:*")]
        if gates:  # skip the account's short delay: this test is about the pair's window
            await redis_client.delete(*gates)
    wait = await throttle.acquire(account="ada@example.com", client="10.0.0.1")
    assert 60 < wait <= 600  # the pair's window, not the account's short delay
    assert await throttle.acquire(account="grace@example.com", client="10.0.0.1") == 0


async def test_a_client_is_blocked_across_accounts(throttle: RedisLoginThrottle) -> None:
    for n in range(5):
        assert await throttle.acquire(account=f"user{n}@example.com", client="203.0.113.1") == 0
    assert await throttle.acquire(account="new@example.com", client="203.0.113.1") > 0
    assert await throttle.acquire(account="new@example.com", client="203.0.113.2") == 0


async def test_fifty_concurrent_attempts_from_one_client_on_one_account_let_through_only_the_limit(
    redis_client: Redis, prefix: str
) -> None:
    # One connection per attempt: the attempts really race inside Redis.
    clients = [Redis.from_url(redis_url()) for _ in range(50)]
    try:
        throttles = [_throttle(c, prefix, pair_limit=5) for c in clients]
        waits = await asyncio.gather(
            *(t.acquire(account="ada@example.com", client="198.51.100.7") for t in throttles)
        )
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))
    assert waits.count(0) <= 5
    assert all(w > 0 for w in waits if w != 0)


async def test_strangers_delay_the_owner_by_at_most_the_cap(redis_client: Redis, prefix: str) -> None:
    throttle = _throttle(redis_client, prefix, pair_limit=2, account_delay_cap_seconds=1)
    for n in range(40):
        await throttle.acquire(account="ada@example.com", client=f"203.0.113.{n}")
    first = await throttle.acquire(account="ada@example.com", client="198.51.100.1")
    assert first <= 1
    deadline = time.monotonic() + 10
    while (wait := await throttle.acquire(account="ada@example.com", client="198.51.100.1")) > 0:
        assert wait <= 1
        assert time.monotonic() < deadline, "the owner stayed locked out beyond the cap"
        await asyncio.sleep(0.05)


async def test_success_clears_the_account_and_the_pair_but_not_the_clients_other_attempts(
    throttle: RedisLoginThrottle,
) -> None:
    for n in range(4):
        await throttle.acquire(account=f"user{n}@example.com", client="203.0.113.1")
    assert await throttle.acquire(account="ada@example.com", client="203.0.113.1") == 0
    await throttle.record_success(account="ada@example.com", client="203.0.113.1")
    assert await throttle.acquire(account="ada@example.com", client="203.0.113.1") == 0  # 5th of 5
    assert await throttle.acquire(account="ada@example.com", client="203.0.113.1") > 0


async def test_redis_holds_no_email_address(throttle: RedisLoginThrottle, redis_client: Redis) -> None:
    await throttle.acquire(account="secret.person@example.com", client="203.0.113.1")
    keys = [k.decode() async for k in redis_client.scan_iter(match=f"{throttle._prefix}:*")]
    assert keys
    assert not any("secret.person" in k for k in keys)


async def test_an_unreachable_redis_fails_closed_with_unavailable() -> None:
    client = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    throttle = _throttle(client, "x")
    try:
        with pytest.raises(Unavailable):
            await throttle.acquire(account="a@example.com", client="203.0.113.1")
        with pytest.raises(Unavailable):
            await throttle.record_success(account="a@example.com", client="203.0.113.1")
    finally:
        await client.aclose()
