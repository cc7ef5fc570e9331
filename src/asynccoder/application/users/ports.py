"""Ports for users."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol
from uuid import UUID

from asynccoder.domain.credentials import OAuthState, PersonalAccessToken, RefreshToken
from asynccoder.domain.github_connection import GitHubConnection
from asynccoder.domain.users import User


class UserRepository(Protocol):
    """Stores users; emails are unique (``add`` raises ``Conflict`` with code ``email_taken`` otherwise)."""

    async def add(self, user: User) -> None: ...

    async def get(self, user_id: UUID) -> User | None: ...

    async def get_by_email(self, email: str) -> User | None: ...

    async def get_by_clerk_id(self, clerk_user_id: str) -> User | None: ...

    async def update(self, user: User) -> None: ...

    async def list_page(self, *, limit: int, before: UUID | None) -> list[User]:
        """Users newest first (by id): ids below the cursor ``before``, at most ``limit``."""
        ...


class GitHubConnectionRepository(Protocol):
    """Stores each user's GitHub connection; ``save`` inserts or replaces the user's one connection."""

    async def save(self, connection: GitHubConnection) -> None: ...

    async def get(self, user_id: UUID) -> GitHubConnection | None: ...

    async def delete(self, user_id: UUID) -> bool: ...


class RefreshTokenRepository(Protocol):
    """Stores refresh tokens by digest.

    ``mark_used`` is the rotation's compare-and-set: it succeeds (True) for exactly one caller, and only
    while the token is neither used nor revoked. ``revoke_family`` is idempotent.
    """

    async def add(self, token: RefreshToken) -> None: ...

    async def get_by_hash(self, token_hash: str) -> RefreshToken | None: ...

    async def mark_used(self, token_id: UUID, *, now: datetime) -> bool: ...

    async def revoke_family(self, family_id: UUID, *, now: datetime) -> int: ...

    async def delete_dead(self, user_id: UUID, *, now: datetime) -> int:
        """Delete the user's tokens whose family passed its absolute lifetime (nothing can use them)."""
        ...


class PersonalAccessTokenRepository(Protocol):
    """Stores personal access tokens by digest; lists are newest first, ``before`` is an id cursor."""

    async def add(self, token: PersonalAccessToken) -> None: ...

    async def get_by_hash(self, token_hash: str) -> PersonalAccessToken | None: ...

    async def list_for_user(
        self, user_id: UUID, *, limit: int, before: UUID | None
    ) -> list[PersonalAccessToken]: ...

    async def revoke(self, token_id: UUID, *, user_id: UUID, now: datetime) -> bool: ...

    async def touch(self, token_id: UUID, *, now: datetime, not_since: datetime) -> None:
        """Set ``last_used_at = now`` unless it is already later than ``not_since`` (cheap, coalesced)."""
        ...


class OAuthStateRepository(Protocol):
    """Pending OAuth authorizations by state digest. ``consume`` succeeds once (conditional update)."""

    async def add(self, state: OAuthState) -> None: ...

    async def get_by_hash(self, state_hash: str) -> OAuthState | None: ...

    async def consume(self, state_id: UUID, *, now: datetime) -> bool: ...

    async def delete_stale(self, user_id: UUID, *, now: datetime) -> int:
        """Delete the user's used or expired states."""
        ...
