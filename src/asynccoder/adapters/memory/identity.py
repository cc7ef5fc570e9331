"""In-memory identity: users, refresh and access tokens, OAuth states, login throttle, Clerk tokens."""

from __future__ import annotations

import dataclasses
import math
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from asynccoder.adapters.memory.store import InMemoryStore
from asynccoder.application.ports.identity import (
    LoginThrottle,
    OAuthStateRepository,
    PersonalAccessTokenRepository,
    RefreshTokenRepository,
    UserRepository,
)
from asynccoder.application.ports.system import Clock
from asynccoder.domain.errors import Conflict
from asynccoder.domain.identity import (
    AccountStanding,
    OAuthState,
    PersonalAccessToken,
    RefreshToken,
    SignInSession,
    User,
    session_of,
)


class InMemoryUserRepository(UserRepository):
    def __init__(self, store: InMemoryStore) -> None:
        self._store = store

    def _check_unique(self, user: User) -> None:
        for other in self._store.state.users.values():
            if other.id == user.id:
                continue
            if other.email == user.email:
                raise Conflict("A user with this email already exists.", code="email_taken")
            if user.clerk_user_id is not None and other.clerk_user_id == user.clerk_user_id:
                raise Conflict("This Clerk user is already linked.", code="clerk_user_taken")

    async def add(self, user: User) -> None:
        if user.id in self._store.state.users:
            raise Conflict("A user with this id already exists.")
        self._check_unique(user)
        self._store.state.users[user.id] = user

    async def get(self, user_id: UUID) -> User | None:
        return self._store.state.users.get(user_id)

    async def get_standing(self, user_id: UUID) -> AccountStanding | None:
        user = self._store.state.users.get(user_id)
        return user.standing if user is not None else None

    async def get_by_email(self, email: str) -> User | None:
        return next((u for u in self._store.state.users.values() if u.email == email), None)

    async def get_by_clerk_id(self, clerk_user_id: str) -> User | None:
        return next((u for u in self._store.state.users.values() if u.clerk_user_id == clerk_user_id), None)

    async def update(self, user: User) -> None:
        if user.id not in self._store.state.users:
            return
        self._check_unique(user)
        self._store.state.users[user.id] = user

    async def list_page(self, *, limit: int, before: UUID | None) -> list[User]:
        users = sorted(
            (u for u in self._store.state.users.values() if before is None or u.id < before),
            key=lambda u: u.id,
            reverse=True,
        )
        return users[:limit]


class InMemoryRefreshTokenRepository(RefreshTokenRepository):
    def __init__(self, store: InMemoryStore) -> None:
        self._store = store

    @property
    def _rows(self) -> dict[UUID, RefreshToken]:
        return self._store.state.refresh_tokens

    async def add(self, token: RefreshToken) -> None:
        if token.id in self._rows or any(t.token_hash == token.token_hash for t in self._rows.values()):
            raise Conflict("This refresh token already exists.")
        self._rows[token.id] = token

    async def get_by_hash(self, token_hash: str) -> RefreshToken | None:
        return next((t for t in self._rows.values() if t.token_hash == token_hash), None)

    async def mark_used(self, token_id: UUID, *, now: datetime) -> bool:
        token = self._rows.get(token_id)
        if token is None or token.used_at is not None or token.revoked_at is not None:
            return False
        self._rows[token_id] = dataclasses.replace(token, used_at=now)
        return True

    async def revoke_family(self, family_id: UUID, *, now: datetime) -> int:
        count = 0
        for token_id, token in list(self._rows.items()):
            if token.family_id == family_id and token.revoked_at is None:
                self._rows[token_id] = dataclasses.replace(token, revoked_at=now)
                count += 1
        return count

    async def delete_dead(self, user_id: UUID, *, now: datetime) -> int:
        dead = [t.id for t in self._rows.values() if t.user_id == user_id and now >= t.family_expires_at]
        for token_id in dead:
            del self._rows[token_id]
        return len(dead)

    async def list_sessions(
        self, user_id: UUID, *, now: datetime, limit: int, before: UUID | None
    ) -> list[SignInSession]:
        live = sorted(
            (
                t
                for t in self._rows.values()
                if t.user_id == user_id
                and t.used_at is None
                and t.revoked_at is None
                and not t.is_expired(now)
                and (before is None or t.family_id < before)
            ),
            key=lambda t: t.family_id,
            reverse=True,
        )
        return [session_of(t) for t in live[:limit]]

    async def revoke_session(self, family_id: UUID, *, user_id: UUID, now: datetime) -> bool:
        if not any(t.family_id == family_id and t.user_id == user_id for t in self._rows.values()):
            return False
        await self.revoke_family(family_id, now=now)
        return True

    async def revoke_all_for_user(self, user_id: UUID, *, now: datetime, keep: UUID | None = None) -> int:
        count = 0
        for token_id, token in list(self._rows.items()):
            if token.user_id == user_id and token.revoked_at is None and token.family_id != keep:
                self._rows[token_id] = dataclasses.replace(token, revoked_at=now)
                count += 1
        return count


class InMemoryPersonalAccessTokenRepository(PersonalAccessTokenRepository):
    def __init__(self, store: InMemoryStore) -> None:
        self._store = store

    @property
    def _rows(self) -> dict[UUID, PersonalAccessToken]:
        return self._store.state.personal_access_tokens

    async def add(self, token: PersonalAccessToken) -> None:
        if token.id in self._rows or any(t.token_hash == token.token_hash for t in self._rows.values()):
            raise Conflict("This token already exists.")
        self._rows[token.id] = token

    async def get_by_hash(self, token_hash: str) -> PersonalAccessToken | None:
        return next((t for t in self._rows.values() if t.token_hash == token_hash), None)

    async def list_for_user(
        self, user_id: UUID, *, limit: int, before: UUID | None
    ) -> list[PersonalAccessToken]:
        mine = sorted(
            (t for t in self._rows.values() if t.user_id == user_id and (before is None or t.id < before)),
            key=lambda t: t.id,
            reverse=True,
        )
        return mine[:limit]

    async def revoke(self, token_id: UUID, *, user_id: UUID, now: datetime) -> bool:
        token = self._rows.get(token_id)
        if token is None or token.user_id != user_id:
            return False
        if token.revoked_at is None:
            self._rows[token_id] = dataclasses.replace(token, revoked_at=now)
        return True

    async def touch(self, token_id: UUID, *, now: datetime, not_since: datetime) -> None:
        token = self._rows.get(token_id)
        if token is not None and (token.last_used_at is None or token.last_used_at < not_since):
            self._rows[token_id] = dataclasses.replace(token, last_used_at=now)

    async def revoke_all_for_user(self, user_id: UUID, *, now: datetime) -> int:
        count = 0
        for token_id, token in list(self._rows.items()):
            if token.user_id == user_id and token.revoked_at is None:
                self._rows[token_id] = dataclasses.replace(token, revoked_at=now)
                count += 1
        return count


class InMemoryOAuthStateRepository(OAuthStateRepository):
    def __init__(self, store: InMemoryStore) -> None:
        self._store = store

    @property
    def _rows(self) -> dict[UUID, OAuthState]:
        return self._store.state.oauth_states

    async def add(self, state: OAuthState) -> None:
        if state.id in self._rows or any(s.state_hash == state.state_hash for s in self._rows.values()):
            raise Conflict("This state already exists.")
        self._rows[state.id] = state

    async def get_by_hash(self, state_hash: str) -> OAuthState | None:
        return next((s for s in self._rows.values() if s.state_hash == state_hash), None)

    async def consume(self, state_id: UUID, *, now: datetime) -> bool:
        state = self._rows.get(state_id)
        if state is None or state.used_at is not None or now >= state.expires_at:
            return False
        self._rows[state_id] = dataclasses.replace(state, used_at=now)
        return True

    async def delete_stale(self, user_id: UUID, *, now: datetime) -> int:
        stale = [
            s.id
            for s in self._rows.values()
            if s.user_id == user_id and (s.used_at is not None or now >= s.expires_at)
        ]
        for state_id in stale:
            del self._rows[state_id]
        return len(stale)


def account_delay_seconds(attempts: int, *, limit: int, cap: int) -> int:
    """The wait after ``attempts`` counted on an account (all clients): none under ``limit``, then 1, 2,
    4, ... seconds, never more than ``cap``."""
    if attempts < limit:
        return 0
    return int(min(2 ** min(attempts - limit, 30), cap))


@dataclass(slots=True)
class _Window:
    started: datetime
    count: int = 0


class InMemoryLoginThrottle(LoginThrottle):
    """The policy of ``LoginThrottle`` in one process; check-and-count happens under one lock."""

    MAX_KEYS = 100_000

    def __init__(
        self,
        clock: Clock,
        *,
        pair_limit: int,
        client_limit: int,
        window_seconds: int,
        account_delay_cap_seconds: int,
    ) -> None:
        self._clock = clock
        self._pair_limit = pair_limit
        self._client_limit = client_limit
        self._window = window_seconds
        self._cap = account_delay_cap_seconds
        self._windows: dict[tuple[str, ...], _Window] = {}
        # Account key -> the moment its next attempt may start (the growing delay).
        self._gates: dict[str, datetime] = {}
        # Not an asyncio lock: the critical section never awaits, and this works from any event loop.
        self._lock = threading.Lock()

    def _live(self, key: tuple[str, ...], now: datetime) -> _Window | None:
        window = self._windows.get(key)
        if window is not None and (now - window.started).total_seconds() >= self._window:
            del self._windows[key]
            return None
        return window

    def _wait(self, key: tuple[str, ...], limit: int, now: datetime) -> int:
        window = self._live(key, now)
        if window is None or window.count < limit:
            return 0
        return max(1, math.ceil(self._window - (now - window.started).total_seconds()))

    def _prune(self, now: datetime) -> None:
        # Bounded memory under a flood of distinct accounts: drop windows and gates that have ended.
        for key in list(self._windows):
            self._live(key, now)
        for account, opens in list(self._gates.items()):
            if opens <= now:
                del self._gates[account]

    async def acquire(self, *, account: str, client: str) -> int:
        keys = {
            "pair": ("pair", account, client),
            "client": ("client", client),
            "account": ("account", account),
        }
        with self._lock:
            now = self._clock.now()
            if len(self._windows) >= self.MAX_KEYS:
                self._prune(now)
            waits = [
                self._wait(keys["pair"], self._pair_limit, now),
                self._wait(keys["client"], self._client_limit, now),
            ]
            gate = self._gates.get(account)
            if gate is not None and gate > now:
                waits.append(max(1, math.ceil((gate - now).total_seconds())))
            if max(waits) > 0:
                return max(waits)
            for key in keys.values():
                window = self._live(key, now) or self._windows.setdefault(key, _Window(started=now))
                window.count += 1
            account_window = self._windows[keys["account"]]
            # The account's window slides with each attempt: a slow distributed guesser keeps the delay up.
            account_window.started = now
            delay = account_delay_seconds(account_window.count, limit=self._pair_limit, cap=self._cap)
            if delay:
                self._gates[account] = now + timedelta(seconds=delay)
            return 0

    async def record_success(self, *, account: str, client: str) -> None:
        with self._lock:
            self._windows.pop(("pair", account, client), None)
            self._windows.pop(("account", account), None)
            self._gates.pop(account, None)
            window = self._live(("client", client), self._clock.now())
            if window is not None and window.count > 0:
                window.count -= 1
