"""Builders for the identity use cases on in-memory adapters."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import timedelta

from asynccoder.adapters.crypto.jwt_tokens import JwtAccessTokenService
from asynccoder.adapters.crypto.passwords import Argon2PasswordHasher
from asynccoder.adapters.memory.identity import InMemoryLoginThrottle
from asynccoder.adapters.memory.store import InMemoryStore
from asynccoder.adapters.memory.uow import InMemoryUnitOfWork
from asynccoder.application.identity.registration import RegisterUser
from asynccoder.application.identity.sessions import (
    LogIn,
    LogOut,
    RefreshSession,
    SessionIssuer,
    SessionPolicy,
)
from asynccoder.application.ports.identity import ClerkIdentity, ClerkTokenVerifier
from asynccoder.domain.errors import Unauthenticated
from tests.support.builders import T0
from tests.support.system import ManualClock, SequentialIdGenerator

# Cheap argon2id parameters for tests; production uses OWASP's (see test_passwords).
CHEAP_HASH = {"memory_kib": 64, "time_cost": 1, "parallelism": 1}
POLICY = SessionPolicy(
    access_ttl=timedelta(minutes=15),
    refresh_idle_ttl=timedelta(days=14),
    refresh_absolute_ttl=timedelta(days=60),
)


class CountingHasher(Argon2PasswordHasher):
    """The real argon2id hasher, counting the password work it was asked for."""

    def __init__(self, **params: int) -> None:
        # Roomy admission by default: tests of throttling count hashes, not the hashing bound.
        super().__init__(**{**CHEAP_HASH, "max_concurrency": 64, **params})
        self.verifies = 0
        self.dummy_verifies = 0
        self.hashes = 0
        self._inside_dummy = False

    async def hash(self, password: str) -> str:
        self.hashes += 0 if self._inside_dummy else 1
        return await super().hash(password)

    async def verify(self, password_hash: str, password: str) -> bool:
        self.verifies += 0 if self._inside_dummy else 1
        return await super().verify(password_hash, password)

    async def dummy_verify(self, password: str) -> None:
        self.dummy_verifies += 1
        self._inside_dummy = True
        try:
            await super().dummy_verify(password)
        finally:
            self._inside_dummy = False


@dataclass
class Identity:
    store: InMemoryStore = field(default_factory=InMemoryStore)
    clock: ManualClock = field(default_factory=lambda: ManualClock(T0))
    ids: SequentialIdGenerator = field(default_factory=SequentialIdGenerator)
    hasher: CountingHasher = field(default_factory=CountingHasher)
    tokens: JwtAccessTokenService = field(
        default_factory=lambda: JwtAccessTokenService(
            secret="s" * 40, issuer="asynccoder", audience="asynccoder-api", ttl=timedelta(minutes=15)
        )
    )
    pair_limit: int = 5
    client_limit: int = 20
    delay_cap: int = 60

    def __post_init__(self) -> None:
        self.throttle = InMemoryLoginThrottle(
            self.clock,
            pair_limit=self.pair_limit,
            client_limit=self.client_limit,
            window_seconds=900,
            account_delay_cap_seconds=self.delay_cap,
        )
        self.issuer = SessionIssuer(self.tokens, self.ids, POLICY)

    def uow(self) -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(self.store)

    def register(self) -> RegisterUser:
        return RegisterUser(self.uow(), self.hasher, self.ids, self.clock)

    def log_in(self) -> LogIn:
        return LogIn(self.uow(), self.hasher, self.throttle, self.issuer, self.clock)

    def refresh(self) -> RefreshSession:
        return RefreshSession(self.uow(), self.issuer, self.clock)

    def log_out(self) -> LogOut:
        return LogOut(self.uow(), self.clock)


class InMemoryClerkTokenVerifier(ClerkTokenVerifier):
    """Knows the session tokens it was told about (``issue``); ``revoke`` makes one fail as Clerk would."""

    PREFIX = "clerk_"

    def __init__(self) -> None:
        self._tokens: dict[str, ClerkIdentity | None] = {}

    def issue(self, identity: ClerkIdentity) -> str:
        token = self.PREFIX + secrets.token_urlsafe(16)
        self._tokens[token] = identity
        return token

    def revoke(self, token: str) -> None:
        self._tokens[token] = None

    async def verify(self, token: str) -> ClerkIdentity | None:
        if not token.startswith(self.PREFIX):
            return None
        identity = self._tokens.get(token)
        if identity is None:
            raise Unauthenticated("The session token is not valid.")
        return identity
