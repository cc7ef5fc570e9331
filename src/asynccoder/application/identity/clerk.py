"""Clerk session tokens as a credential verifier, provisioning local users on first sight."""

from __future__ import annotations

from uuid import UUID

from asynccoder.application.ports.identity import (
    ClerkIdentity,
    ClerkTokenVerifier,
    CredentialVerifier,
    VerifiedCredential,
)
from asynccoder.application.ports.system import (
    Clock,
    IdGenerator,
)
from asynccoder.application.ports.uow import UnitOfWork
from asynccoder.domain.errors import Conflict, InvalidInput
from asynccoder.domain.identity import (
    CredentialKind,
    Role,
    User,
    UserStatus,
    normalize_email,
    validate_display_name,
)

UNDELIVERABLE_EMAIL_DOMAIN = "clerk.invalid"


def undeliverable_email(user_id: UUID) -> str:
    """For Clerk users whose token carries no (usable) email: reserved ``.invalid`` TLD, never deliverable."""
    return f"clerk-{user_id.hex}@{UNDELIVERABLE_EMAIL_DOMAIN}"


class ClerkSessionVerifier(CredentialVerifier):
    """Resolves a verified Clerk session token to a local user, creating one on the first request.

    Rules: the local user is found by Clerk user id, never by email (an email claim from another identity
    provider must not take over an existing local account); a new user gets the token's email if present
    and not already used locally, else an undeliverable address on the reserved `.invalid` TLD; role ``user``.
    """

    def __init__(self, tokens: ClerkTokenVerifier, uow: UnitOfWork, ids: IdGenerator, clock: Clock) -> None:
        self._tokens = tokens
        self._uow = uow
        self._ids = ids
        self._clock = clock

    async def verify(self, credential: str) -> VerifiedCredential | None:
        user_id = await self._user_id_for(credential)
        return (
            None
            if user_id is None
            else VerifiedCredential(user_id=user_id, kind=CredentialKind.CLERK_SESSION)
        )

    async def _user_id_for(self, credential: str) -> UUID | None:
        identity = await self._tokens.verify(credential)
        if identity is None:
            return None
        async with self._uow as uow:
            existing = await uow.users.get_by_clerk_id(identity.clerk_user_id)
            if existing is not None:
                return existing.id
            user = await self._new_user(uow, identity)
            try:
                await uow.users.add(user)
                await uow.commit()
                return user.id
            except Conflict:
                pass
        # Provisioned concurrently by another request.
        async with self._uow as uow:
            existing = await uow.users.get_by_clerk_id(identity.clerk_user_id)
        return existing.id if existing is not None else None

    async def _new_user(self, uow: UnitOfWork, identity: ClerkIdentity) -> User:
        user_id = self._ids.new_id()
        email = undeliverable_email(user_id)
        if identity.email:
            try:
                candidate = normalize_email(identity.email)
                if await uow.users.get_by_email(candidate) is None:
                    email = candidate
            except InvalidInput:
                pass
        try:
            name = validate_display_name(identity.name or "")
        except InvalidInput:
            name = "Clerk user"
        now = self._clock.now()
        return User(
            id=user_id,
            email=email,
            display_name=name,
            role=Role.USER,
            status=UserStatus.ACTIVE,
            created_at=now,
            updated_at=now,
            clerk_user_id=identity.clerk_user_id,
        )
