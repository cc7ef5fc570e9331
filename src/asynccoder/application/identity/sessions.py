"""Sign-in sessions: login with a password, refresh-token rotation, logout."""

from __future__ import annotations

import dataclasses
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from asynccoder.application.ports.identity import (
    AccessTokenService,
    LoginThrottle,
    PasswordHasher,
)
from asynccoder.application.ports.system import (
    Clock,
    IdGenerator,
)
from asynccoder.application.ports.uow import UnitOfWork
from asynccoder.application.shared import Page, check_limit, page_of
from asynccoder.domain.errors import InvalidInput, NotFound, TooManyRequests, Unauthenticated
from asynccoder.domain.identity import (
    MAX_EMAIL_LENGTH,
    Actor,
    RefreshToken,
    SignInSession,
    User,
    normalize_email,
    password_too_long,
    token_digest,
)

REFRESH_TOKEN_PREFIX = "rt_"


MAX_USER_AGENT_LENGTH = 256


@dataclass(frozen=True, slots=True)
class ClientInfo:
    """Where a request came from, as shown in the session list (the user agent is cut to 256 characters)."""

    ip: str | None
    user_agent: str | None = None

    def __post_init__(self) -> None:
        if self.user_agent is not None:
            cleaned = "".join(c for c in self.user_agent if c.isprintable())[:MAX_USER_AGENT_LENGTH]
            object.__setattr__(self, "user_agent", cleaned or None)


@dataclass(frozen=True, slots=True)
class SessionPolicy:
    access_ttl: timedelta
    refresh_idle_ttl: timedelta
    refresh_absolute_ttl: timedelta


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str = dataclasses.field(repr=False)
    expires_in: int
    refresh_token: str = dataclasses.field(repr=False)
    token_type: str = "bearer"


class SessionIssuer:
    """Issues an access token together with the next refresh token of a family (not a use case)."""

    def __init__(self, tokens: AccessTokenService, ids: IdGenerator, policy: SessionPolicy) -> None:
        self._tokens = tokens
        self._ids = ids
        self._policy = policy

    async def issue(
        self,
        uow: UnitOfWork,
        user: User,
        *,
        now: datetime,
        previous: RefreshToken | None = None,
        client: ClientInfo | None = None,
    ) -> TokenPair:
        secret = REFRESH_TOKEN_PREFIX + secrets.token_urlsafe(32)  # 256 bits
        family_expires_at = (
            previous.family_expires_at if previous else now + self._policy.refresh_absolute_ttl
        )
        family_id = previous.family_id if previous else self._ids.new_id()
        started_at = previous.started_at if previous else now
        await uow.refresh_tokens.add(
            RefreshToken(
                id=self._ids.new_id(),
                family_id=family_id,
                user_id=user.id,
                token_hash=token_digest(secret),
                created_at=now,
                expires_at=min(now + self._policy.refresh_idle_ttl, family_expires_at),
                family_expires_at=family_expires_at,
                session_started_at=started_at,
                client_ip=client.ip if client else None,
                user_agent=client.user_agent if client else None,
            )
        )
        access = self._tokens.issue(
            user, now=user.token_issue_time(now), session_id=family_id, authenticated_at=started_at
        )
        return TokenPair(
            access_token=access.token,
            expires_in=int(self._policy.access_ttl.total_seconds()),
            refresh_token=secret,
        )

    def access_token(self, user: User, actor: Actor, *, now: datetime) -> tuple[str, int]:
        """A fresh access token for the caller's own session (after its revocation point moved)."""
        access = self._tokens.issue(
            user,
            now=user.token_issue_time(now),
            session_id=actor.session_id,
            authenticated_at=actor.authenticated_at,
        )
        return access.token, int(self._policy.access_ttl.total_seconds())


def _invalid_credentials() -> Unauthenticated:
    return Unauthenticated("The email address or password is wrong.", code="invalid_credentials")


@dataclass(frozen=True, slots=True)
class LogInCommand:
    email: str
    password: str = dataclasses.field(repr=False)
    client: str
    user_agent: str | None = None


class LogIn:
    """Exchange an email and password for an access token and a refresh token.

    Rules: an unknown email, a wrong password, a password-less (Clerk) account and a disabled account all
    get the same ``invalid_credentials`` answer after the same amount of hashing work (a dummy verify for
    unknown accounts); an over-long password is refused without hashing; every attempt is counted by the
    throttle *before* the password work (so concurrent guesses cannot overtake the count), and over the
    throttle's limits an attempt gets ``too_many_attempts`` (429) without any hashing, even with the right
    password; the account is looked up by its normalised email; a hash made with older parameters is upgraded
    on success; the user's refresh tokens whose family outlived its absolute lifetime are deleted.
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

    async def __call__(self, command: LogInCommand) -> TokenPair:
        email = _email_or_none(command.email)
        # Unparseable addresses still count (against a stable, bounded key): they are guesses too.
        account = email if email is not None else command.email.strip().lower()[:MAX_EMAIL_LENGTH]
        retry_after = await self._throttle.acquire(account=account, client=command.client)
        if retry_after > 0:
            raise TooManyRequests(
                "Too many sign-in attempts; try again later.",
                retry_after=retry_after,
                code="too_many_attempts",
            )
        user = (
            await self._find(email) if email is not None and not password_too_long(command.password) else None
        )
        verified = False
        if user is not None and user.password_hash is not None:
            verified = await self._hasher.verify(user.password_hash, command.password)
        elif not password_too_long(command.password):
            await self._hasher.dummy_verify(command.password)
        if user is None or not verified or not user.can_authenticate:
            raise _invalid_credentials()

        new_hash = None
        if user.password_hash is not None and self._hasher.needs_rehash(user.password_hash):
            new_hash = await self._hasher.hash(command.password)
        now = self._clock.now()
        async with self._uow as uow:
            if new_hash is not None:
                fresh = await uow.users.get(user.id)
                if fresh is not None:
                    await uow.users.update(dataclasses.replace(fresh, password_hash=new_hash, updated_at=now))
            await uow.refresh_tokens.delete_dead(user.id, now=now)
            pair = await self._issuer.issue(
                uow, user, now=now, client=ClientInfo(command.client, command.user_agent)
            )
            await uow.commit()
        await self._throttle.record_success(account=account, client=command.client)
        return pair

    async def _find(self, email: str) -> User | None:
        async with self._uow as uow:
            return await uow.users.get_by_email(email)


def _email_or_none(raw: str) -> str | None:
    try:
        return normalize_email(raw)
    except InvalidInput:
        return None


def _invalid_refresh_token() -> Unauthenticated:
    return Unauthenticated("The refresh token is not valid.", code="invalid_refresh_token")


@dataclass(frozen=True, slots=True)
class RefreshSessionCommand:
    refresh_token: str = dataclasses.field(repr=False)
    client: ClientInfo | None = None


class RefreshSession:
    """Rotate a refresh token: the presented one dies, a new pair is issued in the same family.

    Rules: unknown, expired (idle or absolute lifetime) or revoked tokens are refused; presenting a token
    that was already used revokes its whole family (a stolen token's newer sibling dies too); of two
    concurrent refreshes with the same token exactly one can win, the other counts as reuse; a disabled
    user's family is revoked.
    """

    def __init__(self, uow: UnitOfWork, issuer: SessionIssuer, clock: Clock) -> None:
        self._uow = uow
        self._issuer = issuer
        self._clock = clock

    async def __call__(self, command: RefreshSessionCommand) -> TokenPair:
        if not command.refresh_token.startswith(REFRESH_TOKEN_PREFIX):
            raise _invalid_refresh_token()
        now = self._clock.now()
        async with self._uow as uow:
            token = await uow.refresh_tokens.get_by_hash(token_digest(command.refresh_token))
            if token is None or token.revoked_at is not None:
                raise _invalid_refresh_token()
            if token.used_at is not None:
                await uow.refresh_tokens.revoke_family(token.family_id, now=now)
                await uow.commit()
                raise _invalid_refresh_token()
            if token.is_expired(now):
                raise _invalid_refresh_token()
            user = await uow.users.get(token.user_id)
            if user is None or not user.can_authenticate:
                await uow.refresh_tokens.revoke_family(token.family_id, now=now)
                await uow.commit()
                raise _invalid_refresh_token()
            if not await uow.refresh_tokens.mark_used(token.id, now=now):
                # A concurrent refresh won the race with the same token: that is reuse.
                await uow.refresh_tokens.revoke_family(token.family_id, now=now)
                await uow.commit()
                raise _invalid_refresh_token()
            pair = await self._issuer.issue(uow, user, now=now, previous=token, client=command.client)
            await uow.commit()
        return pair


@dataclass(frozen=True, slots=True)
class LogOutCommand:
    refresh_token: str = dataclasses.field(repr=False)


class LogOut:
    """End a session: revoke the refresh token's whole family.

    Rules: idempotent; an unknown or already revoked token is not an error (nothing to reveal).
    Access tokens already issued stay valid until they expire (they are short-lived).
    """

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, command: LogOutCommand) -> None:
        async with self._uow as uow:
            token = await uow.refresh_tokens.get_by_hash(token_digest(command.refresh_token))
            if token is not None:
                await uow.refresh_tokens.revoke_family(token.family_id, now=self._clock.now())
                await uow.commit()


@dataclass(frozen=True, slots=True)
class ListSessionsQuery:
    actor: Actor
    limit: int = 20
    cursor: UUID | None = None


@dataclass(frozen=True, slots=True)
class SessionListing:
    session: SignInSession
    current: bool


class ListSessions:
    """The caller's live sign-in sessions (refresh-token families), newest login first; ``current`` marks
    the session of the access token making the request. No token material is shown."""

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, query: ListSessionsQuery) -> Page[SessionListing]:
        limit = check_limit(query.limit)
        async with self._uow as uow:
            rows = await uow.refresh_tokens.list_sessions(
                query.actor.user_id, now=self._clock.now(), limit=limit + 1, before=query.cursor
            )
        page = page_of(rows, limit, lambda s: s.id)
        return Page(
            items=[SessionListing(s, current=s.id == query.actor.session_id) for s in page.items],
            next_cursor=page.next_cursor,
        )


@dataclass(frozen=True, slots=True)
class EndSessionCommand:
    actor: Actor
    session_id: UUID


class EndSession:
    """Sign one of the caller's sessions out: its refresh-token family is revoked.

    Rules: another user's (or an unknown) session is ``NotFound``; ending an ended session is fine. Access
    tokens the session already holds live until they expire (at most ``ACCESS_TOKEN_TTL_SECONDS``).
    """

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, command: EndSessionCommand) -> None:
        async with self._uow as uow:
            found = await uow.refresh_tokens.revoke_session(
                command.session_id, user_id=command.actor.user_id, now=self._clock.now()
            )
            if not found:
                raise NotFound("No such session.")
            await uow.commit()
