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


# KEYS: pair, client, account, account gate. ARGV: pair limit, client limit, window, delay cap (seconds).
# One script = one atomic step in Redis: check every limit, then count the attempt, or count nothing.
_ACQUIRE = """
local pair_limit, client_limit = tonumber(ARGV[1]), tonumber(ARGV[2])
local window, cap = tonumber(ARGV[3]), tonumber(ARGV[4])
local wait = 0
local function blocked(key, limit)
  local count = tonumber(redis.call('GET', key) or '0')
  if count >= limit then
    local ttl = redis.call('TTL', key)
    if ttl < 1 then ttl = window end
    if ttl > wait then wait = ttl end
  end
end
blocked(KEYS[1], pair_limit)
blocked(KEYS[2], client_limit)
local gate = redis.call('PTTL', KEYS[4])
if gate > 0 then
  local seconds = math.ceil(gate / 1000)
  if seconds > wait then wait = seconds end
end
if wait > 0 then return wait end
for i = 1, 2 do
  redis.call('INCR', KEYS[i])
  redis.call('EXPIRE', KEYS[i], window, 'NX')
end
local attempts = redis.call('INCR', KEYS[3])
redis.call('EXPIRE', KEYS[3], window)
if attempts >= pair_limit then
  local delay = math.min(2 ^ math.min(attempts - pair_limit, 30), cap)
  redis.call('SET', KEYS[4], '1', 'EX', math.floor(delay))
end
return 0
"""

# KEYS: pair, client, account, account gate.
_SUCCESS = """
redis.call('DEL', KEYS[1], KEYS[3], KEYS[4])
if tonumber(redis.call('GET', KEYS[2]) or '0') > 0 then redis.call('DECR', KEYS[2]) end
return 0
"""


class RedisLoginThrottle(LoginThrottle):
    """The policy of ``LoginThrottle`` shared by every API process: each step is one Lua script (atomic in
    Redis); windows and delays are key TTLs, which are the ``Retry-After``. Accounts are hashed, so Redis
    holds no email addresses."""

    def __init__(
        self,
        client: Redis,
        *,
        pair_limit: int,
        client_limit: int,
        window_seconds: int,
        account_delay_cap_seconds: int,
        prefix: str,
    ) -> None:
        self._redis = client
        self._args = [pair_limit, client_limit, window_seconds, account_delay_cap_seconds]
        self._prefix = prefix
        self._acquire = client.register_script(_ACQUIRE)
        self._success = client.register_script(_SUCCESS)

    def _keys(self, account: str, client: str) -> list[str]:
        digest = hashlib.sha256(account.encode()).hexdigest()
        pair = hashlib.sha256(f"{account}\n{client}".encode()).hexdigest()
        base = f"{self._prefix}:login"
        return [
            f"{base}:pair:{pair}",
            f"{base}:client:{client}",
            f"{base}:account:{digest}",
            f"{base}:gate:{digest}",
        ]

    async def acquire(self, *, account: str, client: str) -> int:
        async with _redis_errors():
            return int(await self._acquire(keys=self._keys(account, client), args=self._args))

    async def record_success(self, *, account: str, client: str) -> None:
        async with _redis_errors():
            await self._success(keys=self._keys(account, client))
