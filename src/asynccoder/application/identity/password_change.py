"""ChangePassword use case."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from asynccoder.application.identity.sessions import SessionIssuer
from asynccoder.application.ports.identity import LoginThrottle, PasswordHasher
from asynccoder.application.ports.system import Clock
from asynccoder.application.ports.uow import UnitOfWork
from asynccoder.domain.errors import FieldProblem, InvalidInput, Refused, TooManyRequests, Unauthenticated
from asynccoder.domain.identity import Actor, password_too_long, validate_new_password


@dataclass(frozen=True, slots=True)
class ChangePasswordCommand:
    actor: Actor
    current_password: str = dataclasses.field(repr=False)
    new_password: str = dataclasses.field(repr=False)
    client: str
    revoke_personal_access_tokens: bool = False


@dataclass(frozen=True, slots=True)
class PasswordChanged:
    sessions_ended: int
    personal_access_tokens_revoked: int
    # A new access token for the caller's own session (None when the caller used no session's token).
    access_token: str | None = dataclasses.field(repr=False)
    expires_in: int | None


class ChangePassword:
    """Change the caller's password.

    Rules: the current password is required and checked like a login (the same throttle, so a stolen token
    cannot be used to guess it; a wrong one is 400 ``invalid_current_password``); the new one follows the
    registration rules (checked before any hashing); a password-less (Clerk) account has nothing to change
    (422 ``no_password``). Every other sign-in session ends: their refresh-token families are revoked and
    every access token issued before now stops working (the user's revocation point moves); the caller's
    own session continues with the new access token returned. With ``revoke_personal_access_tokens`` every
    personal access token is revoked too.
    """

    def __init__(
        self,
        uow: UnitOfWork,
        hasher: PasswordHasher,
        throttle: LoginThrottle,
        issuer: SessionIssuer,
        clock: Clock,
    ) -> None:
        self._uow = uow
        self._hasher = hasher
        self._throttle = throttle
        self._issuer = issuer
        self._clock = clock

    async def __call__(self, command: ChangePasswordCommand) -> PasswordChanged:
        async with self._uow as uow:
            user = await uow.users.get(command.actor.user_id)
        if user is None:
            raise Unauthenticated("The token is not valid.")
        if user.password_hash is None:
            raise Refused("This account signs in without a password.", code="no_password")
        new_password = validate_new_password(command.new_password)
        retry_after = await self._throttle.acquire(account=user.email, client=command.client)
        if retry_after > 0:
            raise TooManyRequests(
                "Too many password attempts; try again later.",
                retry_after=retry_after,
                code="too_many_attempts",
            )
        if password_too_long(command.current_password) or not await self._hasher.verify(
            user.password_hash, command.current_password
        ):
            raise InvalidInput(
                "The current password is wrong.",
                problems=[FieldProblem("current_password", "is not your current password")],
                code="invalid_current_password",
            )
        new_hash = await self._hasher.hash(new_password)
        now = self._clock.now()
        async with self._uow as uow:
            fresh = await uow.users.get(user.id)
            if fresh is None:
                raise Unauthenticated("The token is not valid.")
            updated = dataclasses.replace(fresh.with_credentials_revoked(now), password_hash=new_hash)
            await uow.users.update(updated)
            ended = await uow.refresh_tokens.revoke_all_for_user(
                user.id, now=now, keep=command.actor.session_id
            )
            revoked = 0
            if command.revoke_personal_access_tokens:
                revoked = await uow.personal_access_tokens.revoke_all_for_user(user.id, now=now)
            await uow.commit()
        await self._throttle.record_success(account=user.email, client=command.client)
        token, expires_in = None, None
        if command.actor.session_id is not None:
            token, expires_in = self._issuer.access_token(updated, command.actor, now=now)
        return PasswordChanged(
            sessions_ended=ended,
            personal_access_tokens_revoked=revoked,
            access_token=token,
            expires_in=expires_in,
        )
