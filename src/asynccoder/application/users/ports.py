"""Ports for users."""

from __future__ import annotations

from typing import Protocol
from uuid import UUID

from asynccoder.domain.github_connection import GitHubConnection
from asynccoder.domain.users import User


class UserRepository(Protocol):
    """Stores users; emails are unique (``add`` raises ``Conflict`` with code ``email_taken`` otherwise)."""

    async def add(self, user: User) -> None: ...

    async def get(self, user_id: UUID) -> User | None: ...

    async def get_by_email(self, email: str) -> User | None: ...

    async def get_by_clerk_id(self, clerk_user_id: str) -> User | None: ...

    async def update(self, user: User) -> None: ...


class GitHubConnectionRepository(Protocol):
    """Stores each user's GitHub connection; ``save`` inserts or replaces the user's one connection."""

    async def save(self, connection: GitHubConnection) -> None: ...

    async def get(self, user_id: UUID) -> GitHubConnection | None: ...

    async def delete(self, user_id: UUID) -> bool: ...
