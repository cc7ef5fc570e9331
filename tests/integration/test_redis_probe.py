"""The Redis readiness probe against the real server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from asynccoder.adapters.redis.health import RedisProbe
from asynccoder.application.health.check_readiness import CheckReadiness
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


async def test_a_reachable_redis_is_healthy(redis_client: Redis) -> None:
    assert await RedisProbe(redis_client).check() is None


async def test_an_unreachable_redis_makes_the_platform_not_ready() -> None:
    client = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    try:
        readiness = await CheckReadiness([RedisProbe(client)])()
    finally:
        await client.aclose()
    assert not readiness.ready
    assert readiness.components[0].name == "redis"
