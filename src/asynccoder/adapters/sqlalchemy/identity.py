"""SQLAlchemy identity repositories: users, refresh tokens, personal access tokens, OAuth states."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from asynccoder.adapters.sqlalchemy.errors import constraint_name
from asynccoder.adapters.sqlalchemy.identity_tables import (
    oauth_states,
    personal_access_tokens,
    refresh_tokens,
)
from asynccoder.adapters.sqlalchemy.tables import users
from asynccoder.application.ports.identity import (
    OAuthStateRepository,
    PersonalAccessTokenRepository,
    RefreshTokenRepository,
    UserRepository,
)
from asynccoder.domain.errors import Conflict
from asynccoder.domain.identity import (
    AccountStanding,
    OAuthState,
    PersonalAccessToken,
    RefreshToken,
    Role,
    SignInSession,
    User,
    UserStatus,
    session_of,
)

# Built once: the caller lookup of every authenticated request, four columns and never the password hash.
_standing_query = sa.select(users.c.id, users.c.role, users.c.status, users.c.credentials_valid_after).where(
    users.c.id == sa.bindparam("user_id")
)


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
        credentials_valid_after=row.credentials_valid_after,
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
        "credentials_valid_after": user.credentials_valid_after,
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

    async def get_standing(self, user_id: UUID) -> AccountStanding | None:
        row = (await self._conn.execute(_standing_query, {"user_id": user_id})).first()
        return (
            AccountStanding(row.id, Role(row.role), UserStatus(row.status), row.credentials_valid_after)
            if row
            else None
        )

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


def _to_refresh(row: Any) -> RefreshToken:
    return RefreshToken(
        id=row.id,
        family_id=row.family_id,
        user_id=row.user_id,
        token_hash=row.token_hash,
        created_at=row.created_at,
        expires_at=row.expires_at,
        family_expires_at=row.family_expires_at,
        used_at=row.used_at,
        revoked_at=row.revoked_at,
        session_started_at=row.session_started_at,
        client_ip=row.client_ip,
        user_agent=row.user_agent,
    )


class SqlAlchemyRefreshTokenRepository(RefreshTokenRepository):
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def add(self, token: RefreshToken) -> None:
        try:
            await self._conn.execute(
                refresh_tokens.insert().values(
                    id=token.id,
                    family_id=token.family_id,
                    user_id=token.user_id,
                    token_hash=token.token_hash,
                    created_at=token.created_at,
                    expires_at=token.expires_at,
                    family_expires_at=token.family_expires_at,
                    used_at=token.used_at,
                    revoked_at=token.revoked_at,
                    session_started_at=token.session_started_at,
                    client_ip=token.client_ip,
                    user_agent=token.user_agent,
                )
            )
        except IntegrityError:
            raise Conflict("This refresh token already exists.") from None

    async def get_by_hash(self, token_hash: str) -> RefreshToken | None:
        row = (
            await self._conn.execute(refresh_tokens.select().where(refresh_tokens.c.token_hash == token_hash))
        ).first()
        return _to_refresh(row) if row else None

    async def mark_used(self, token_id: UUID, *, now: datetime) -> bool:
        # The compare-and-set of rotation: of two concurrent refreshes, the second waits for the first's row
        # lock, re-evaluates the WHERE clause and updates nothing.
        result = await self._conn.execute(
            refresh_tokens.update()
            .where(
                refresh_tokens.c.id == token_id,
                refresh_tokens.c.used_at.is_(None),
                refresh_tokens.c.revoked_at.is_(None),
            )
            .values(used_at=now)
        )
        return result.rowcount == 1

    async def revoke_family(self, family_id: UUID, *, now: datetime) -> int:
        result = await self._conn.execute(
            refresh_tokens.update()
            .where(refresh_tokens.c.family_id == family_id, refresh_tokens.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        return int(result.rowcount)

    async def delete_dead(self, user_id: UUID, *, now: datetime) -> int:
        result = await self._conn.execute(
            refresh_tokens.delete().where(
                refresh_tokens.c.user_id == user_id, refresh_tokens.c.family_expires_at <= now
            )
        )
        return int(result.rowcount)

    async def list_sessions(
        self, user_id: UUID, *, now: datetime, limit: int, before: UUID | None
    ) -> list[SignInSession]:
        table = refresh_tokens
        # The live link of a family is its one unused, unrevoked token: its row describes the session.
        query = (
            table.select()
            .where(
                table.c.user_id == user_id,
                table.c.used_at.is_(None),
                table.c.revoked_at.is_(None),
                table.c.expires_at > now,
                table.c.family_expires_at > now,
            )
            .order_by(table.c.family_id.desc())
            .limit(limit)
        )
        if before is not None:
            query = query.where(table.c.family_id < before)
        return [session_of(_to_refresh(row)) for row in await self._conn.execute(query)]

    async def revoke_session(self, family_id: UUID, *, user_id: UUID, now: datetime) -> bool:
        table = refresh_tokens
        owned = (
            await self._conn.execute(
                sa.select(table.c.id)
                .where(table.c.family_id == family_id, table.c.user_id == user_id)
                .limit(1)
            )
        ).first()
        if owned is None:
            return False
        await self.revoke_family(family_id, now=now)
        return True

    async def revoke_all_for_user(self, user_id: UUID, *, now: datetime, keep: UUID | None = None) -> int:
        table = refresh_tokens
        query = table.update().where(table.c.user_id == user_id, table.c.revoked_at.is_(None))
        if keep is not None:
            query = query.where(table.c.family_id != keep)
        return int((await self._conn.execute(query.values(revoked_at=now))).rowcount)


def _to_pat(row: Any) -> PersonalAccessToken:
    return PersonalAccessToken(
        id=row.id,
        user_id=row.user_id,
        name=row.name,
        prefix=row.prefix,
        token_hash=row.token_hash,
        created_at=row.created_at,
        expires_at=row.expires_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


class SqlAlchemyPersonalAccessTokenRepository(PersonalAccessTokenRepository):
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def add(self, token: PersonalAccessToken) -> None:
        try:
            await self._conn.execute(
                personal_access_tokens.insert().values(
                    id=token.id,
                    user_id=token.user_id,
                    name=token.name,
                    prefix=token.prefix,
                    token_hash=token.token_hash,
                    created_at=token.created_at,
                    expires_at=token.expires_at,
                    last_used_at=token.last_used_at,
                    revoked_at=token.revoked_at,
                )
            )
        except IntegrityError:
            raise Conflict("This token already exists.") from None

    async def get_by_hash(self, token_hash: str) -> PersonalAccessToken | None:
        row = (
            await self._conn.execute(
                personal_access_tokens.select().where(personal_access_tokens.c.token_hash == token_hash)
            )
        ).first()
        return _to_pat(row) if row else None

    async def list_for_user(
        self, user_id: UUID, *, limit: int, before: UUID | None
    ) -> list[PersonalAccessToken]:
        query = (
            personal_access_tokens.select()
            .where(personal_access_tokens.c.user_id == user_id)
            .order_by(personal_access_tokens.c.id.desc())
            .limit(limit)
        )
        if before is not None:
            query = query.where(personal_access_tokens.c.id < before)
        return [_to_pat(row) for row in await self._conn.execute(query)]

    async def revoke(self, token_id: UUID, *, user_id: UUID, now: datetime) -> bool:
        table = personal_access_tokens
        owned = (
            await self._conn.execute(
                sa.select(table.c.id).where(table.c.id == token_id, table.c.user_id == user_id)
            )
        ).first()
        if owned is None:
            return False
        await self._conn.execute(
            table.update()
            .where(table.c.id == token_id, table.c.user_id == user_id, table.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        return True

    async def touch(self, token_id: UUID, *, now: datetime, not_since: datetime) -> None:
        table = personal_access_tokens
        await self._conn.execute(
            table.update()
            .where(
                table.c.id == token_id,
                sa.or_(table.c.last_used_at.is_(None), table.c.last_used_at < not_since),
            )
            .values(last_used_at=now)
        )

    async def revoke_all_for_user(self, user_id: UUID, *, now: datetime) -> int:
        table = personal_access_tokens
        result = await self._conn.execute(
            table.update()
            .where(table.c.user_id == user_id, table.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        return int(result.rowcount)


def _to_state(row: Any) -> OAuthState:
    return OAuthState(
        id=row.id,
        user_id=row.user_id,
        state_hash=row.state_hash,
        code_verifier=row.code_verifier,
        created_at=row.created_at,
        expires_at=row.expires_at,
        used_at=row.used_at,
    )


class SqlAlchemyOAuthStateRepository(OAuthStateRepository):
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def add(self, state: OAuthState) -> None:
        try:
            await self._conn.execute(
                oauth_states.insert().values(
                    id=state.id,
                    user_id=state.user_id,
                    state_hash=state.state_hash,
                    code_verifier=state.code_verifier,
                    created_at=state.created_at,
                    expires_at=state.expires_at,
                    used_at=state.used_at,
                )
            )
        except IntegrityError:
            raise Conflict("This state already exists.") from None

    async def get_by_hash(self, state_hash: str) -> OAuthState | None:
        row = (
            await self._conn.execute(oauth_states.select().where(oauth_states.c.state_hash == state_hash))
        ).first()
        return _to_state(row) if row else None

    async def consume(self, state_id: UUID, *, now: datetime) -> bool:
        result = await self._conn.execute(
            oauth_states.update()
            .where(
                oauth_states.c.id == state_id,
                oauth_states.c.used_at.is_(None),
                oauth_states.c.expires_at > now,
            )
            .values(used_at=now)
        )
        return result.rowcount == 1

    async def delete_stale(self, user_id: UUID, *, now: datetime) -> int:
        result = await self._conn.execute(
            oauth_states.delete().where(
                oauth_states.c.user_id == user_id,
                sa.or_(oauth_states.c.used_at.is_not(None), oauth_states.c.expires_at <= now),
            )
        )
        return int(result.rowcount)
