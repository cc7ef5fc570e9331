"""The Redis login throttle against the real server (unique key prefix per test)."""

from __future__ import annotations

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


@pytest.fixture
async def throttle(redis_client: Redis) -> AsyncIterator[RedisLoginThrottle]:
    prefix = f"test-{uuid.uuid4().hex}"
    yield RedisLoginThrottle(redis_client, account_limit=3, client_limit=5, window_seconds=600, prefix=prefix)
    keys = [k async for k in redis_client.scan_iter(match=f"{prefix}:*")]
    if keys:
        await redis_client.delete(*keys)


async def test_an_account_is_blocked_after_its_limit_with_the_remaining_window(
    throttle: RedisLoginThrottle,
) -> None:
    for n in range(3):
        assert await throttle.retry_after(account="ada@example.com", client=f"10.0.0.{n}") == 0
        await throttle.record_failure(account="ada@example.com", client=f"10.0.0.{n}")
    wait = await throttle.retry_after(account="ada@example.com", client="10.9.9.9")
    assert 0 < wait <= 600
    assert await throttle.retry_after(account="grace@example.com", client="10.9.9.9") == 0


async def test_a_client_is_blocked_across_accounts(throttle: RedisLoginThrottle) -> None:
    for n in range(5):
        await throttle.record_failure(account=f"user{n}@example.com", client="203.0.113.1")
    assert await throttle.retry_after(account="new@example.com", client="203.0.113.1") > 0
    assert await throttle.retry_after(account="new@example.com", client="203.0.113.2") == 0


async def test_success_clears_the_account_but_not_the_client(throttle: RedisLoginThrottle) -> None:
    for _ in range(5):
        await throttle.record_failure(account="ada@example.com", client="203.0.113.1")
    await throttle.record_success(account="ada@example.com")
    assert await throttle.retry_after(account="ada@example.com", client="203.0.113.2") == 0
    assert await throttle.retry_after(account="ada@example.com", client="203.0.113.1") > 0


async def test_redis_holds_no_email_address(throttle: RedisLoginThrottle, redis_client: Redis) -> None:
    await throttle.record_failure(account="secret.person@example.com", client="203.0.113.1")
    keys = [k.decode() async for k in redis_client.scan_iter(match=f"{throttle._prefix}:*")]
    assert keys
    assert not any("secret.person" in k for k in keys)


async def test_an_unreachable_redis_fails_closed_with_unavailable() -> None:
    client = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    throttle = RedisLoginThrottle(client, account_limit=3, client_limit=5, window_seconds=600, prefix="x")
    try:
        with pytest.raises(Unavailable):
            await throttle.retry_after(account="a@example.com", client="203.0.113.1")
        with pytest.raises(Unavailable):
            await throttle.record_failure(account="a@example.com", client="203.0.113.1")
    finally:
        await client.aclose()
