"""Login throttle shared by every API process, in Redis."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from redis.asyncio import Redis
from redis.exceptions import RedisError

from asynccoder.application.ports.identity import LoginThrottle
from asynccoder.domain.errors import Unavailable


@asynccontextmanager
async def _redis_errors() -> AsyncIterator[None]:
    # Fail closed: without the shared counters no login is attempted (503, not 500 and not unthrottled).
    try:
        yield
    except (RedisError, OSError):
        raise Unavailable("Signing in is temporarily unavailable.", code="dependency_unavailable") from None


class RedisLoginThrottle(LoginThrottle):
    """Fixed windows: ``INCR`` plus ``EXPIRE ... NX`` (the first failure starts the window); the key's TTL
    is the ``Retry-After``. Account keys are hashed so that Redis holds no email addresses."""

    def __init__(
        self, client: Redis, *, account_limit: int, client_limit: int, window_seconds: int, prefix: str
    ) -> None:
        self._redis = client
        self._account_limit = account_limit
        self._client_limit = client_limit
        self._window = window_seconds
        self._prefix = prefix

    def _account_key(self, account: str) -> str:
        return f"{self._prefix}:login:account:{hashlib.sha256(account.encode()).hexdigest()}"

    def _client_key(self, client: str) -> str:
        return f"{self._prefix}:login:client:{client}"

    async def retry_after(self, *, account: str, client: str) -> int:
        async with _redis_errors():
            return await self._retry_after(account=account, client=client)

    async def _retry_after(self, *, account: str, client: str) -> int:
        keys = [
            (self._account_key(account), self._account_limit),
            (self._client_key(client), self._client_limit),
        ]
        counts = await self._redis.mget([k for k, _ in keys])
        waits = [0]
        for (key, limit), count in zip(keys, counts, strict=True):
            if count is not None and int(count) >= limit:
                ttl = int(await self._redis.ttl(key))
                waits.append(ttl if ttl > 0 else self._window)
        return max(waits)

    async def record_failure(self, *, account: str, client: str) -> None:
        async with _redis_errors(), self._redis.pipeline(transaction=True) as pipe:
            for key in (self._account_key(account), self._client_key(client)):
                pipe.incr(key)
                pipe.expire(key, self._window, nx=True)
            await pipe.execute()

    async def record_success(self, *, account: str) -> None:
        async with _redis_errors():
            await self._redis.delete(self._account_key(account))
