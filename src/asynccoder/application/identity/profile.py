"""The caller's own profile."""

from __future__ import annotations

from dataclasses import dataclass

from asynccoder.application.ports.system import Clock
from asynccoder.application.ports.uow import UnitOfWork
from asynccoder.domain.errors import Unauthenticated
from asynccoder.domain.identity import (
    Actor,
    User,
)


@dataclass(frozen=True, slots=True)
class GetProfileQuery:
    actor: Actor


class GetProfile:
    """The caller's own user record (the HTTP layer shows no credential material)."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, query: GetProfileQuery) -> User:
        async with self._uow.read_only() as uow:
            user = await uow.users.get(query.actor.user_id)
        if user is None:
            raise Unauthenticated("The token is not valid.")
        return user


@dataclass(frozen=True, slots=True)
class UpdateProfileCommand:
    actor: Actor
    display_name: str


class UpdateProfile:
    """Change the caller's own editable fields. Rules: only the display name (1..100 printable characters)."""

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, command: UpdateProfileCommand) -> User:
        async with self._uow as uow:
            user = await uow.users.get(command.actor.user_id)
            if user is None:
                raise Unauthenticated("The token is not valid.")
            updated = user.with_profile(display_name=command.display_name, now=self._clock.now())
            await uow.users.update(updated)
            await uow.commit()
        return updated
