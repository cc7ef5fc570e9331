"""In-memory repositories of refresh tokens, personal access tokens and OAuth states."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from uuid import UUID

from asynccoder.adapters.memory.store import InMemoryStore
from asynccoder.application.users.ports import (
    OAuthStateRepository,
    PersonalAccessTokenRepository,
    RefreshTokenRepository,
)
from asynccoder.domain.credentials import OAuthState, PersonalAccessToken, RefreshToken
from asynccoder.domain.errors import Conflict


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
