"""Personal access tokens: long-lived bearer tokens for scripts and CI."""

from __future__ import annotations

import dataclasses
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from asynccoder.application.ports.identity import CredentialVerifier, VerifiedCredential
from asynccoder.application.ports.system import (
    Clock,
    IdGenerator,
)
from asynccoder.application.ports.uow import UnitOfWork
from asynccoder.application.shared import (
    Page,
    check_limit,
    page_of,
)
from asynccoder.domain.errors import FieldProblem, Forbidden, InvalidInput, NotFound, Refused, Unauthenticated
from asynccoder.domain.identity import (
    PERSONAL_ACCESS_TOKEN_PREFIX,
    PERSONAL_ACCESS_TOKEN_SHOWN_PREFIX_LENGTH,
    Actor,
    CredentialKind,
    PersonalAccessToken,
    token_digest,
    validate_token_name,
)

MAX_LIFETIME_DAYS = 366
# Creating a token with an access token needs a password login this recent (GitHub's "sudo mode").
FRESH_LOGIN = timedelta(minutes=10)
# last_used_at is written at most once a minute per token, so busy scripts do not write on every request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class CreatePersonalAccessTokenCommand:
    actor: Actor
    name: str
    expires_at: datetime | None = None
    expires_in_days: int | None = None


@dataclass(frozen=True, slots=True)
class CreatedPersonalAccessToken:
    token: PersonalAccessToken
    secret: str = dataclasses.field(repr=False)


class CreatePersonalAccessToken:
    """Create a personal access token for the caller; the secret is returned once and stored only hashed.

    Rules: a name of 1..100 characters; at most one of ``expires_at`` (in the future, within 366 days) and
    ``expires_in_days`` (1..366); no expiry when neither is given. A token never outlives the credential
    that creates it: with a personal access token that expires, the new one expires no later (it gets the
    creator's expiry when none is asked for; a later one is refused, ``token_outlives_credential``); with an
    access token, the session's password login must be at most 10 minutes old (403
    ``fresh_login_required``: sign in again), since a 15-minute token cannot vouch for a year-long one.
    """

    def __init__(self, uow: UnitOfWork, ids: IdGenerator, clock: Clock) -> None:
        self._uow = uow
        self._ids = ids
        self._clock = clock

    async def __call__(self, command: CreatePersonalAccessTokenCommand) -> CreatedPersonalAccessToken:
        name = validate_token_name(command.name)
        now = self._clock.now()
        expires_at = self._bounded_by_creator(command.actor, self._expiry(command, now), now)
        secret = PERSONAL_ACCESS_TOKEN_PREFIX + secrets.token_urlsafe(32)  # 256 bits
        token = PersonalAccessToken(
            id=self._ids.new_id(),
            user_id=command.actor.user_id,
            name=name,
            prefix=secret[:PERSONAL_ACCESS_TOKEN_SHOWN_PREFIX_LENGTH],
            token_hash=token_digest(secret),
            created_at=now,
            expires_at=expires_at,
        )
        async with self._uow as uow:
            await uow.personal_access_tokens.add(token)
            await uow.commit()
        return CreatedPersonalAccessToken(token=token, secret=secret)

    @staticmethod
    def _bounded_by_creator(actor: Actor, expires_at: datetime | None, now: datetime) -> datetime | None:
        if actor.credential is CredentialKind.ACCESS_TOKEN and (
            actor.authenticated_at is None or actor.authenticated_at < now - FRESH_LOGIN
        ):
            raise Forbidden(
                "Creating a personal access token needs a recent sign-in; sign in again.",
                code="fresh_login_required",
            )
        if actor.credential is CredentialKind.PERSONAL_ACCESS_TOKEN and actor.credential_expires_at:
            if expires_at is None:
                return actor.credential_expires_at
            if expires_at > actor.credential_expires_at:
                raise Refused(
                    "A token cannot outlive the token that creates it.", code="token_outlives_credential"
                )
        return expires_at

    @staticmethod
    def _expiry(command: CreatePersonalAccessTokenCommand, now: datetime) -> datetime | None:
        if command.expires_at is not None and command.expires_in_days is not None:
            raise InvalidInput(
                "Give either expires_at or expires_in_days, not both.",
                problems=[FieldProblem("expires_at", "cannot be combined with expires_in_days")],
            )
        if command.expires_in_days is not None:
            if not 1 <= command.expires_in_days <= MAX_LIFETIME_DAYS:
                raise InvalidInput(
                    "The lifetime is not valid.",
                    problems=[FieldProblem("expires_in_days", f"must be 1 to {MAX_LIFETIME_DAYS}")],
                )
            return now + timedelta(days=command.expires_in_days)
        if command.expires_at is not None:
            if command.expires_at.tzinfo is None:
                raise InvalidInput(
                    "The expiry needs a time zone.",
                    problems=[FieldProblem("expires_at", "must be an RFC 3339 timestamp with offset")],
                )
            if not now < command.expires_at <= now + timedelta(days=MAX_LIFETIME_DAYS):
                raise InvalidInput(
                    "The expiry is not valid.",
                    problems=[
                        FieldProblem("expires_at", f"must be in the future, within {MAX_LIFETIME_DAYS} days")
                    ],
                )
            return command.expires_at
        return None


@dataclass(frozen=True, slots=True)
class ListPersonalAccessTokensQuery:
    actor: Actor
    limit: int = 20
    cursor: UUID | None = None


class ListPersonalAccessTokens:
    """The caller's own tokens, newest first, revoked ones included (so they can be audited); no secrets."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, query: ListPersonalAccessTokensQuery) -> Page[PersonalAccessToken]:
        limit = check_limit(query.limit)
        async with self._uow as uow:
            rows = await uow.personal_access_tokens.list_for_user(
                query.actor.user_id, limit=limit + 1, before=query.cursor
            )
        return page_of(rows, limit, lambda t: t.id)


@dataclass(frozen=True, slots=True)
class RevokePersonalAccessTokenCommand:
    actor: Actor
    token_id: UUID


class RevokePersonalAccessToken:
    """Revoke one of the caller's tokens. Rules: another user's token is ``NotFound``; twice is fine."""

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, command: RevokePersonalAccessTokenCommand) -> None:
        async with self._uow as uow:
            found = await uow.personal_access_tokens.revoke(
                command.token_id, user_id=command.actor.user_id, now=self._clock.now()
            )
            if not found:
                raise NotFound("No such token.")
            await uow.commit()


class PersonalAccessTokenVerifier(CredentialVerifier):
    """Recognises ``acp_`` tokens: unknown, revoked or expired ones are invalid; records the last use."""

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def verify(self, credential: str) -> VerifiedCredential | None:
        if not credential.startswith(PERSONAL_ACCESS_TOKEN_PREFIX):
            return None
        now = self._clock.now()
        async with self._uow as uow:
            token = await uow.personal_access_tokens.get_by_hash(token_digest(credential))
            if token is None or not token.is_usable(now):
                raise Unauthenticated("The token is not valid.")
            if token.last_used_at is None or token.last_used_at < now - LAST_USED_RESOLUTION:
                await uow.personal_access_tokens.touch(
                    token.id, now=now, not_since=now - LAST_USED_RESOLUTION
                )
                await uow.commit()
        return VerifiedCredential(
            user_id=token.user_id, kind=CredentialKind.PERSONAL_ACCESS_TOKEN, expires_at=token.expires_at
        )
