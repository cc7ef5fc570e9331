"""In-memory user repository."""

from __future__ import annotations

from uuid import UUID

from asynccoder.adapters.memory.store import InMemoryStore
from asynccoder.application.users.ports import UserRepository
from asynccoder.domain.errors import Conflict
from asynccoder.domain.users import User


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
