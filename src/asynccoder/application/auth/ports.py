"""Ports for authentication and secrets at rest."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol
from uuid import UUID

from asynccoder.domain.users import Role, User


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: UUID
    role: Role
    expires_at: datetime


class AccessTokenService(Protocol):
    """Issues and verifies the platform's own short-lived access tokens.

    ``verify`` returns ``None`` when the token is not in this service's format (so another verifier may try),
    and raises ``Unauthenticated`` when it is in this format but invalid, expired or of the wrong type.
    """

    def issue(self, user: User, *, now: datetime) -> IssuedToken: ...

    def verify(self, token: str, *, now: datetime) -> AccessClaims | None: ...


class CredentialVerifier(Protocol):
    """Turns one kind of bearer credential into a user id.

    Returns ``None`` when the credential is not of its kind; raises ``Unauthenticated`` when it is but fails.
    """

    async def user_id_for(self, credential: str) -> UUID | None: ...


class SecretBox(Protocol):
    """Authenticated encryption of secrets at rest under a versioned key ring.

    ``context`` is associated data binding a ciphertext to its owner row (e.g. ``"api_keys:<id>:<user id>"``):
    decrypting with any other context fails. Ciphertexts record the key id that made them.
    ``decrypt`` raises ``SecretUnreadable`` when the ciphertext is damaged, bound elsewhere or its key is
    gone.
    """

    def encrypt(self, plaintext: str, *, context: str) -> str: ...

    def decrypt(self, ciphertext: str, *, context: str) -> str: ...

    def needs_rotation(self, ciphertext: str) -> bool: ...


class SecretUnreadable(Exception):
    """A ciphertext could not be decrypted (tampered, bound to another row, or its key was removed)."""


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
    """Counts failed logins per account and per client in fixed windows.

    ``retry_after`` is 0 while both are under their limits, else the seconds until the blocking window ends.
    ``record_success`` clears the account's count (not the client's: one client guessing many accounts
    must stay throttled).
    """

    async def retry_after(self, *, account: str, client: str) -> int: ...

    async def record_failure(self, *, account: str, client: str) -> None: ...

    async def record_success(self, *, account: str) -> None: ...


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


@dataclass(frozen=True, slots=True)
class GitHubGrant:
    access_token: str = field(repr=False)
    scopes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class GitHubIdentity:
    github_user_id: int
    login: str


class GitHubOAuth(Protocol):
    """GitHub's OAuth web flow (with PKCE S256) and the ``/user`` identity call.

    ``exchange_code`` raises ``InvalidInput`` (code ``github_code_rejected``) when GitHub refuses the code and
    ``Unavailable`` when GitHub cannot be reached; ``identity`` likewise.
    """

    @property
    def configured(self) -> bool: ...

    def authorize_url(self, *, state: str, code_challenge: str, redirect_uri: str) -> str: ...

    async def exchange_code(self, *, code: str, code_verifier: str, redirect_uri: str) -> GitHubGrant: ...

    async def identity(self, access_token: str) -> GitHubIdentity: ...
