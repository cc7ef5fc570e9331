"""SQLAlchemy user repository."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from asynccoder.adapters.sqlalchemy.errors import constraint_name
from asynccoder.adapters.sqlalchemy.tables import users
from asynccoder.application.users.ports import UserRepository
from asynccoder.domain.errors import Conflict
from asynccoder.domain.users import Role, User, UserStatus


def _to_user(row: Any) -> User:
    return User(
        id=row.id,
        email=row.email,
        display_name=row.display_name,
        role=Role(row.role),
        status=UserStatus(row.status),
        created_at=row.created_at,
        updated_at=row.updated_at,
        password_hash=row.password_hash,
        clerk_user_id=row.clerk_user_id,
        github_login=row.github_login,
    )


def _to_row(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.email,
        "display_name": user.display_name,
        "role": user.role.value,
        "status": user.status.value,
        "password_hash": user.password_hash,
        "clerk_user_id": user.clerk_user_id,
        "github_login": user.github_login,
        "created_at": user.created_at,
        "updated_at": user.updated_at,
    }


def _translate(exc: IntegrityError) -> Exception:
    name = constraint_name(exc)
    if name == "uq_users_email":
        return Conflict("A user with this email already exists.", code="email_taken")
    if name == "uq_users_clerk_user_id":
        return Conflict("This Clerk user is already linked.", code="clerk_user_taken")
    return exc


class SqlAlchemyUserRepository(UserRepository):
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def add(self, user: User) -> None:
        try:
            await self._conn.execute(users.insert().values(**_to_row(user)))
        except IntegrityError as exc:
            raise _translate(exc) from None

    async def get(self, user_id: UUID) -> User | None:
        row = (await self._conn.execute(users.select().where(users.c.id == user_id))).first()
        return _to_user(row) if row else None

    async def get_by_email(self, email: str) -> User | None:
        row = (await self._conn.execute(users.select().where(users.c.email == email))).first()
        return _to_user(row) if row else None

    async def get_by_clerk_id(self, clerk_user_id: str) -> User | None:
        row = (await self._conn.execute(users.select().where(users.c.clerk_user_id == clerk_user_id))).first()
        return _to_user(row) if row else None

    async def update(self, user: User) -> None:
        values = _to_row(user)
        del values["id"], values["created_at"]
        try:
            await self._conn.execute(users.update().where(users.c.id == user.id).values(**values))
        except IntegrityError as exc:
            raise _translate(exc) from None

    async def list_page(self, *, limit: int, before: UUID | None) -> list[User]:
        query = users.select().order_by(users.c.id.desc()).limit(limit)
        if before is not None:
            query = query.where(users.c.id < before)
        return [_to_user(row) for row in await self._conn.execute(query)]
