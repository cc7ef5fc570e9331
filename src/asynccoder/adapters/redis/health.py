"""Readiness probe for Redis."""

from __future__ import annotations

from redis.asyncio import Redis

from asynccoder.application.ports.system import HealthProbe


class RedisProbe(HealthProbe):
    """Healthy when Redis answers PING."""

    name = "redis"

    def __init__(self, client: Redis) -> None:
        self._client = client

    async def check(self) -> str | None:
        await self._client.ping()
        return None
