"""The Litestar channels backends a deployment can carry task event notifications on."""

from __future__ import annotations

from litestar.channels.backends.memory import MemoryChannelsBackend
from litestar.channels.backends.psycopg import PsycoPgChannelsBackend
from litestar.channels.backends.redis import RedisChannelsPubSubBackend
from redis.asyncio import Redis

__all__ = ["memory_backend", "postgres_backend", "postgres_dsn", "redis_backend"]


def memory_backend() -> MemoryChannelsBackend:
    """One process only (the embedded default): API and embedded worker share it."""
    return MemoryChannelsBackend()


def redis_backend(client: Redis) -> RedisChannelsPubSubBackend:
    """Redis pub/sub: every process subscribed to the channel gets every message; no history is kept (the
    events themselves are in the database)."""
    return RedisChannelsPubSubBackend(redis=client, key_prefix="ASYNCCODER")


def postgres_dsn(database_url: str) -> str:
    """A libpq DSN from a SQLAlchemy URL (``postgresql+psycopg://`` -> ``postgresql://``)."""
    scheme, sep, rest = database_url.partition("://")
    if not sep or not scheme.startswith("postgresql"):
        raise ValueError("task events on PostgreSQL need a postgresql:// database URL")
    return "postgresql://" + rest


def postgres_backend(database_url: str) -> PsycoPgChannelsBackend:
    """PostgreSQL LISTEN/NOTIFY on the application's database: no extra service to run."""
    return PsycoPgChannelsBackend(postgres_dsn(database_url))
