"""Concurrent logins for one account from one address, on PostgreSQL with the Redis throttle."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy.ext.asyncio import AsyncEngine

from asynccoder.adapters.redis.login_throttle import RedisLoginThrottle
from asynccoder.adapters.sqlalchemy.uow import SqlAlchemyUnitOfWork
from asynccoder.adapters.system.clock import SystemClock
from asynccoder.adapters.system.ids import Uuid7Generator
from asynccoder.application.identity.registration import RegisterUser, RegisterUserCommand
from asynccoder.application.identity.sessions import LogIn, LogInCommand, SessionIssuer, TokenPair
from asynccoder.domain.errors import TooManyRequests, Unauthenticated
from tests.integration.test_refresh_concurrency import TOKENS
from tests.support.identity import POLICY, CountingHasher
from tests.support.services import redis_url, unavailable

PASSWORD = "correct horse battery"


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    client = Redis.from_url(redis_url(), socket_connect_timeout=2)
    try:
        await client.ping()
    except (RedisConnectionError, OSError) as exc:
        await client.aclose()
        unavailable("Redis", str(exc))
    prefix = f"test-{uuid.uuid4().hex}"
    yield prefix
    keys = [k async for k in client.scan_iter(match=f"{prefix}:*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


async def test_fifty_concurrent_logins_from_one_address_check_at_most_the_limit(
    postgres_engine: AsyncEngine, redis_prefix: str
) -> None:
    clock, ids, hasher = SystemClock(), Uuid7Generator(), CountingHasher()
    email = f"ada-{uuid.uuid4().hex[:8]}@example.com"
    await RegisterUser(SqlAlchemyUnitOfWork(postgres_engine), hasher, ids, clock)(
        RegisterUserCommand(email=email, password=PASSWORD)
    )
    hasher.verifies = 0
    redis_clients = [Redis.from_url(redis_url()) for _ in range(10)]
    issuer = SessionIssuer(TOKENS, ids, POLICY)

    async def attempt(n: int) -> object:
        throttle = RedisLoginThrottle(
            redis_clients[n % 10],
            pair_limit=5,
            client_limit=20,
            window_seconds=600,
            account_delay_cap_seconds=60,
            prefix=redis_prefix,
        )
        log_in = LogIn(SqlAlchemyUnitOfWork(postgres_engine), hasher, throttle, issuer, clock)
        password = PASSWORD if n == 49 else "wrong password!!"
        try:
            return await log_in(LogInCommand(email=email, password=password, client="198.51.100.7"))
        except (Unauthenticated, TooManyRequests) as exc:
            return exc

    try:
        results = await asyncio.gather(*(attempt(n) for n in range(50)))
    finally:
        await asyncio.gather(*(c.aclose() for c in redis_clients))
    assert hasher.verifies + hasher.dummy_verifies <= 5
    checked = [r for r in results if isinstance(r, Unauthenticated | TokenPair)]
    assert len(checked) <= 5
    assert sum(isinstance(r, TooManyRequests) for r in results) >= 45
