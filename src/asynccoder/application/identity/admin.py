"""User administration (admin role only)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from uuid import UUID

from asynccoder.application.ports.system import Clock
from asynccoder.application.ports.uow import UnitOfWork
from asynccoder.application.shared import (
    Page,
    check_limit,
    page_of,
)
from asynccoder.domain.errors import NotFound, Refused
from asynccoder.domain.identity import (
    Actor,
    Role,
    User,
    UserStatus,
)


@dataclass(frozen=True, slots=True)
class ListUsersQuery:
    actor: Actor
    limit: int = 20
    cursor: UUID | None = None


class ListUsers:
    """Every user, newest first. Rules: admins only."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, query: ListUsersQuery) -> Page[User]:
        query.actor.require_admin()
        limit = check_limit(query.limit)
        async with self._uow as uow:
            rows = await uow.users.list_page(limit=limit + 1, before=query.cursor)
        return page_of(rows, limit, lambda u: u.id)


@dataclass(frozen=True, slots=True)
class UpdateUserCommand:
    actor: Actor
    user_id: UUID
    role: Role | None = None
    status: UserStatus | None = None


class UpdateUser:
    """Change a user's role or status (promote, demote, disable, enable).

    Rules: admins only; an admin cannot demote or disable themselves (so the last admin cannot lock everyone
    out by accident); a disabled user's tokens stop working at once (authentication checks the status), and
    disabling revokes them for good: every personal access token and refresh-token family is revoked and the
    user's revocation point moves to now, so re-enabling revives no credential issued before.
    """

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, command: UpdateUserCommand) -> User:
        command.actor.require_admin()
        if command.user_id == command.actor.user_id and (
            (command.role is not None and command.role is not Role.ADMIN)
            or (command.status is not None and command.status is not UserStatus.ACTIVE)
        ):
            raise Refused("Admins cannot demote or disable themselves.", code="cannot_change_own_access")
        async with self._uow as uow:
            user = await uow.users.get(command.user_id)
            if user is None:
                raise NotFound("No such user.")
            now = self._clock.now()
            disabling = command.status is UserStatus.DISABLED
            updated = dataclasses.replace(
                user.with_credentials_revoked(now) if disabling else user,
                role=command.role or user.role,
                status=command.status or user.status,
                updated_at=now,
            )
            await uow.users.update(updated)
            if disabling:
                await uow.refresh_tokens.revoke_all_for_user(user.id, now=now)
                await uow.personal_access_tokens.revoke_all_for_user(user.id, now=now)
            await uow.commit()
        return updated
