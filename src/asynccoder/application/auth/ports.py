"""Ports for authentication and secrets at rest."""

from __future__ import annotations

from dataclasses import dataclass
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
