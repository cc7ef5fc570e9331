"""Ports of identity: users and their credentials, access tokens, passwords, login throttling, Clerk."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID

from asynccoder.domain.identity import (
    AccountStanding,
    CredentialKind,
    OAuthState,
    PersonalAccessToken,
    RefreshToken,
    Role,
    SignInSession,
    User,
)


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: UUID
    role: Role
    expires_at: datetime
    issued_at: datetime
    session_id: UUID | None = None
    authenticated_at: datetime | None = None


class AccessTokenService(Protocol):
    """Issues and verifies the platform's own short-lived access tokens.

    ``issue`` binds the token to its sign-in session (refresh-token family) and that session's login time
    when given. ``verify`` returns ``None`` when the token is not in this service's format (so another
    verifier may try), and raises ``Unauthenticated`` when it is in this format but invalid, expired or of
    the wrong type.
    """

    def issue(
        self,
        user: User,
        *,
        now: datetime,
        session_id: UUID | None = None,
        authenticated_at: datetime | None = None,
    ) -> IssuedToken: ...

    def verify(self, token: str, *, now: datetime) -> AccessClaims | None: ...


@dataclass(frozen=True, slots=True)
class VerifiedCredential:
    """What a verifier proved about a bearer credential.

    ``issued_at`` is set for credentials that a user's revocation point (``credentials_valid_after``) cuts
    off; the other fields describe the credential to the use cases (see ``Actor``).
    """

    user_id: UUID
    kind: CredentialKind
    issued_at: datetime | None = None
    expires_at: datetime | None = None
    session_id: UUID | None = None
    authenticated_at: datetime | None = None


class CredentialVerifier(Protocol):
    """Verifies one kind of bearer credential.

    Returns ``None`` when the credential is not of its kind; raises ``Unauthenticated`` when it is but fails.
    """

    async def verify(self, credential: str) -> VerifiedCredential | None: ...


class PasswordHasher(Protocol):
    """Slow, salted password hashing (argon2id). CPU-heavy work runs off the event loop.

    ``verify`` returns False for a wrong password or an unreadable hash, never raises for those.
    ``dummy_verify`` costs what ``verify`` costs and always fails: it keeps unknown accounts as slow as known.
    """

    async def hash(self, password: str) -> str: ...

    async def verify(self, password_hash: str, password: str) -> bool: ...

    async def dummy_verify(self, password: str) -> None: ...

    def needs_rehash(self, password_hash: str) -> bool: ...


class LoginThrottle(Protocol):
    """Counts sign-in attempts *before* any password work, atomically: of many concurrent attempts only as
    many as the limits allow get through.

    Policy (per fixed window of ``window_seconds``, started by the first attempt):
    - per account + client: at most ``pair_limit`` attempts (the guessing limit of one client on one account);
    - per client across accounts: at most ``client_limit`` attempts (one client spraying many accounts);
    - per account from all clients: once ``pair_limit`` attempts are counted, each further attempt must wait a
      delay doubling from 1 s and capped at ``account_delay_cap_seconds``, so strangers on other addresses
      can slow the owner down by at most that cap, never lock them out for the window.

    ``acquire`` counts the attempt and returns 0 when it may proceed; otherwise it counts nothing and returns
    the seconds to wait (>= 1). ``record_success`` forgets the account's and the account + client's attempts
    and takes the successful one off the client's count.
    """

    async def acquire(self, *, account: str, client: str) -> int: ...

    async def record_success(self, *, account: str, client: str) -> None: ...


@dataclass(frozen=True, slots=True)
class ClerkIdentity:
    """The verified subject of a Clerk session token."""

    clerk_user_id: str
    email: str | None
    name: str | None


class ClerkTokenVerifier(Protocol):
    """Verifies Clerk session tokens (RS256 against Clerk's JWKS, ``iss``, ``exp``, ``nbf``, ``azp``).

    Returns ``None`` when the token is not a Clerk token for the configured issuer; raises
    ``Unauthenticated`` when it is but fails, including when the JWKS cannot be fetched (fail closed).
    """

    async def verify(self, token: str) -> ClerkIdentity | None: ...


class UserRepository(Protocol):
    """Stores users; emails are unique (``add`` raises ``Conflict`` with code ``email_taken`` otherwise)."""

    async def add(self, user: User) -> None: ...

    async def get(self, user_id: UUID) -> User | None: ...

    async def get_standing(self, user_id: UUID) -> AccountStanding | None:
        """The user's ``AccountStanding`` (what authentication checks), reading nothing else."""
        ...

    async def get_by_email(self, email: str) -> User | None: ...

    async def get_by_clerk_id(self, clerk_user_id: str) -> User | None: ...

    async def update(self, user: User) -> None: ...

    async def list_page(self, *, limit: int, before: UUID | None) -> list[User]:
        """Users newest first (by id): ids below the cursor ``before``, at most ``limit``."""
        ...


class RefreshTokenRepository(Protocol):
    """Stores refresh tokens by digest.

    ``mark_used`` is the rotation's compare-and-set: it succeeds (True) for exactly one caller, and only
    while the token is neither used nor revoked. ``revoke_family`` is idempotent.
    """

    async def add(self, token: RefreshToken) -> None: ...

    async def get_by_hash(self, token_hash: str) -> RefreshToken | None: ...

    async def mark_used(self, token_id: UUID, *, now: datetime) -> bool: ...

    async def revoke_family(self, family_id: UUID, *, now: datetime) -> int: ...

    async def delete_dead(self, user_id: UUID, *, now: datetime) -> int:
        """Delete the user's tokens whose family passed its absolute lifetime (nothing can use them)."""
        ...

    async def list_sessions(
        self, user_id: UUID, *, now: datetime, limit: int, before: UUID | None
    ) -> list[SignInSession]:
        """The user's live families (a link neither used, revoked nor expired), newest login first; ``before``
        is a family-id cursor."""
        ...

    async def revoke_session(self, family_id: UUID, *, user_id: UUID, now: datetime) -> bool:
        """Revoke the family if it is the user's (True, also when already revoked); False if not theirs."""
        ...

    async def revoke_all_for_user(self, user_id: UUID, *, now: datetime, keep: UUID | None = None) -> int:
        """Revoke every family of the user except ``keep``; the number of tokens revoked."""
        ...


class PersonalAccessTokenRepository(Protocol):
    """Stores personal access tokens by digest; lists are newest first, ``before`` is an id cursor."""

    async def add(self, token: PersonalAccessToken) -> None: ...

    async def get_by_hash(self, token_hash: str) -> PersonalAccessToken | None: ...

    async def list_for_user(
        self, user_id: UUID, *, limit: int, before: UUID | None
    ) -> list[PersonalAccessToken]: ...

    async def revoke(self, token_id: UUID, *, user_id: UUID, now: datetime) -> bool: ...

    async def touch(self, token_id: UUID, *, now: datetime, not_since: datetime) -> None:
        """Set ``last_used_at = now`` unless it is already later than ``not_since`` (cheap, coalesced)."""
        ...

    async def revoke_all_for_user(self, user_id: UUID, *, now: datetime) -> int:
        """Revoke every unrevoked token of the user; the number revoked."""
        ...


class OAuthStateRepository(Protocol):
    """Pending OAuth authorizations by state digest. ``consume`` succeeds once (conditional update)."""

    async def add(self, state: OAuthState) -> None: ...

    async def get_by_hash(self, state_hash: str) -> OAuthState | None: ...

    async def consume(self, state_id: UUID, *, now: datetime) -> bool: ...

    async def delete_stale(self, user_id: UUID, *, now: datetime) -> int:
        """Delete the user's used or expired states."""
        ...
