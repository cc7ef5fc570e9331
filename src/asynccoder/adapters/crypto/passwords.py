"""Password hashing with argon2id (argon2-cffi), off the event loop."""

from __future__ import annotations

import secrets

import anyio.to_thread
from argon2 import PasswordHasher as Argon2
from argon2 import Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from asynccoder.application.admission import AdmissionGate, cores
from asynccoder.application.ports.identity import PasswordHasher
from asynccoder.domain.errors import Unavailable

# OWASP Password Storage Cheat Sheet (2025): argon2id with m=19 MiB, t=2, p=1 as the minimum.
OWASP_MEMORY_KIB = 19 * 1024
OWASP_TIME_COST = 2
OWASP_PARALLELISM = 1


def _busy() -> Unavailable:
    return Unavailable("The server is busy; try again shortly.", code="server_busy", retry_after=1)


class Argon2PasswordHasher(PasswordHasher):
    """argon2id; parameters are injectable (tests use cheap ones). Hashes made with weaker parameters than
    the current ones report ``needs_rehash``.

    Each hash holds ``memory_kib`` for its duration, so at most ``max_concurrency`` run at once (default: one
    per core) and at most ``max_waiting`` wait (default: two per slot); beyond that ``Unavailable``
    (``server_busy``, 503 with ``Retry-After``) at once, so a burst of anonymous logins cannot grow memory.
    """

    def __init__(
        self,
        *,
        memory_kib: int = OWASP_MEMORY_KIB,
        time_cost: int = OWASP_TIME_COST,
        parallelism: int = OWASP_PARALLELISM,
        max_concurrency: int | None = None,
        max_waiting: int | None = None,
    ) -> None:
        limit = max_concurrency or cores()
        self._gate = AdmissionGate(limit=limit, queue=2 * limit if max_waiting is None else max_waiting)
        self._argon = Argon2(
            time_cost=time_cost,
            memory_cost=memory_kib,
            parallelism=parallelism,
            hash_len=32,
            salt_len=16,
            type=Type.ID,
        )
        self._dummy_hash: str | None = None

    @property
    def parameters(self) -> tuple[int, int, int]:
        return self._argon.memory_cost, self._argon.time_cost, self._argon.parallelism

    async def hash(self, password: str) -> str:
        async with self._gate.admit(_busy):
            return await anyio.to_thread.run_sync(self._argon.hash, password)

    async def verify(self, password_hash: str, password: str) -> bool:
        async with self._gate.admit(_busy):
            return await anyio.to_thread.run_sync(self._verify, password_hash, password)

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return bool(self._argon.verify(password_hash, password))
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    async def dummy_verify(self, password: str) -> None:
        if self._dummy_hash is None:
            self._dummy_hash = await self.hash(secrets.token_urlsafe(24))
        await self.verify(self._dummy_hash, password)

    def needs_rehash(self, password_hash: str) -> bool:
        try:
            return self._argon.check_needs_rehash(password_hash)
        except (InvalidHashError, ValueError):
            return True
