"""Open event streams counted in Redis, shared by every API process."""

from __future__ import annotations

import contextlib
from uuid import UUID

from redis.asyncio import Redis
from redis.exceptions import RedisError

from asynccoder.application.ports.events import StreamSlots
from asynccoder.domain.errors import Unavailable

# One sorted set per user: member = slot id, score = lease end in Redis server milliseconds (one clock for
# every process). Expired leases go first, then the slot is taken only if fewer than the limit remain.
_ACQUIRE = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000 + math.floor(tonumber(now_parts[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local limit = tonumber(ARGV[2])
local lease = tonumber(ARGV[3])
if redis.call('ZSCORE', KEYS[1], ARGV[1]) == false and redis.call('ZCARD', KEYS[1]) >= limit then
  return 0
end
redis.call('ZADD', KEYS[1], now + lease, ARGV[1])
redis.call('PEXPIRE', KEYS[1], lease)
return 1
"""

_RENEW = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000 + math.floor(tonumber(now_parts[2]) / 1000)
local lease = tonumber(ARGV[2])
if redis.call('ZADD', KEYS[1], 'XX', 'CH', now + lease, ARGV[1]) == 1 then
  local ttl = redis.call('PTTL', KEYS[1])
  if ttl < lease then redis.call('PEXPIRE', KEYS[1], lease) end
end
return 1
"""

_COUNT = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000 + math.floor(tonumber(now_parts[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZCARD', KEYS[1])
"""


class RedisStreamSlots(StreamSlots):
    """Leased slots in a sorted set per user, changed only by atomic scripts."""

    def __init__(self, client: Redis, *, prefix: str) -> None:
        self._redis = client
        self._prefix = prefix
        self._acquire = client.register_script(_ACQUIRE)
        self._renew = client.register_script(_RENEW)
        self._count = client.register_script(_COUNT)

    def _key(self, user_id: UUID) -> str:
        return f"{self._prefix}:event-streams:{user_id.hex}"

    async def acquire(self, user_id: UUID, slot_id: UUID, *, limit: int, lease_seconds: int) -> bool:
        try:
            taken = await self._acquire(
                keys=[self._key(user_id)], args=[slot_id.hex, limit, lease_seconds * 1000]
            )
        except (RedisError, OSError):
            # Fail closed, as the login throttle does: without the shared count no stream is opened.
            raise Unavailable("Live events are temporarily unavailable.") from None
        return int(taken) == 1

    async def renew(self, user_id: UUID, slot_id: UUID, *, lease_seconds: int) -> None:
        # A failed renewal or release only lets the lease run out on its own.
        with contextlib.suppress(RedisError, OSError):
            await self._renew(keys=[self._key(user_id)], args=[slot_id.hex, lease_seconds * 1000])

    async def release(self, user_id: UUID, slot_id: UUID) -> None:
        with contextlib.suppress(RedisError, OSError):
            await self._redis.zrem(self._key(user_id), slot_id.hex)

    async def count(self, user_id: UUID) -> int:
        return int(await self._count(keys=[self._key(user_id)]))
