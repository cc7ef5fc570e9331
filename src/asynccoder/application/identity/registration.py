"""Creating accounts: self-service registration and the operator's create-admin."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from asynccoder.application.ports.identity import PasswordHasher
from asynccoder.application.ports.system import (
    Clock,
    IdGenerator,
)
from asynccoder.application.ports.uow import UnitOfWork
from asynccoder.domain.errors import Conflict, InvalidInput
from asynccoder.domain.identity import (
    Role,
    User,
    UserStatus,
    normalize_email,
    validate_display_name,
    validate_new_password,
)

DEFAULT_DISPLAY_NAME = "New user"


def default_display_name(email: str) -> str:
    try:
        return validate_display_name(email.split("@", 1)[0])
    except InvalidInput:
        return DEFAULT_DISPLAY_NAME


@dataclass(frozen=True, slots=True)
class RegisterUserCommand:
    email: str
    password: str = dataclasses.field(repr=False)
    display_name: str | None = None


class RegisterUser:
    """Create an account with a password.

    Rules: the email is normalised; the password is 12..256 characters with at least 4 distinct characters
    (checked before hashing); the answer never reveals whether the email was already registered: for an
    existing email nothing changes (the password is still hashed so the timing matches); new users get the
    ``user`` role and are active.
    """

    def __init__(self, uow: UnitOfWork, hasher: PasswordHasher, ids: IdGenerator, clock: Clock) -> None:
        self._uow = uow
        self._hasher = hasher
        self._ids = ids
        self._clock = clock

    async def __call__(self, command: RegisterUserCommand) -> None:
        email = normalize_email(command.email)
        password = validate_new_password(command.password)
        display_name = (
            validate_display_name(command.display_name)
            if command.display_name is not None
            else default_display_name(email)
        )
        password_hash = await self._hasher.hash(password)
        now = self._clock.now()
        async with self._uow as uow:
            if await uow.users.get_by_email(email) is not None:
                return
            user = User(
                id=self._ids.new_id(),
                email=email,
                display_name=display_name,
                role=Role.USER,
                status=UserStatus.ACTIVE,
                created_at=now,
                updated_at=now,
                password_hash=password_hash,
            )
            try:
                await uow.users.add(user)
                await uow.commit()
            except Conflict:
                return  # registered concurrently: same answer as any existing email


@dataclass(frozen=True, slots=True)
class EnsureAdminCommand:
    email: str
    password: str | None = dataclasses.field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class EnsureAdminResult:
    user_id: str
    created: bool
    has_password: bool  # False: the admin can sign in only through Clerk


class EnsureAdmin:
    """Create an admin account, or promote (and re-enable) an existing one; operator-only (CLI).

    Rules: a given password follows the registration rules and replaces the old one; a new account without
    a password can only sign in through Clerk.
    """

    def __init__(self, uow: UnitOfWork, hasher: PasswordHasher, ids: IdGenerator, clock: Clock) -> None:
        self._uow = uow
        self._hasher = hasher
        self._ids = ids
        self._clock = clock

    async def __call__(self, command: EnsureAdminCommand) -> EnsureAdminResult:
        email = normalize_email(command.email)
        password_hash = None
        if command.password is not None:
            password_hash = await self._hasher.hash(validate_new_password(command.password))
        now = self._clock.now()
        async with self._uow as uow:
            existing = await uow.users.get_by_email(email)
            if existing is not None:
                await uow.users.update(
                    dataclasses.replace(
                        existing,
                        role=Role.ADMIN,
                        status=UserStatus.ACTIVE,
                        password_hash=password_hash or existing.password_hash,
                        updated_at=now,
                    )
                )
                await uow.commit()
                return EnsureAdminResult(
                    user_id=str(existing.id),
                    created=False,
                    has_password=(password_hash or existing.password_hash) is not None,
                )
            user = User(
                id=self._ids.new_id(),
                email=email,
                display_name=default_display_name(email),
                role=Role.ADMIN,
                status=UserStatus.ACTIVE,
                created_at=now,
                updated_at=now,
                password_hash=password_hash,
            )
            await uow.users.add(user)
            await uow.commit()
            return EnsureAdminResult(
                user_id=str(user.id), created=True, has_password=password_hash is not None
            )
