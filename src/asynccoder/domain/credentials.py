"""Credentials the platform issues or accepts: passwords, refresh and personal access tokens, OAuth states."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from asynccoder.domain.errors import FieldProblem, InvalidInput

# NIST SP 800-63B: length is what matters; no composition rules. 12 is above NIST's minimum of 8 because
# there is no second factor. The maximum bounds the work an attacker can make the hasher do.
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256

PERSONAL_ACCESS_TOKEN_PREFIX = "acp_"
PERSONAL_ACCESS_TOKEN_SHOWN_PREFIX_LENGTH = 12
MAX_TOKEN_NAME_LENGTH = 100


def password_too_long(password: str) -> bool:
    """Over-long passwords are refused before any hashing happens."""
    return len(password) > MAX_PASSWORD_LENGTH


def validate_new_password(password: str) -> str:
    """Return ``password`` if it may be set: 12..256 characters, not all one repeated character."""
    problem: str | None = None
    if password_too_long(password):
        problem = f"must be at most {MAX_PASSWORD_LENGTH} characters"
    elif len(password) < MIN_PASSWORD_LENGTH:
        problem = f"must be at least {MIN_PASSWORD_LENGTH} characters"
    elif len(set(password)) < 4:
        problem = "must contain at least 4 different characters"
    if problem:
        raise InvalidInput(
            "The password is not acceptable.",
            problems=[FieldProblem("password", problem)],
            code="weak_password",
        )
    return password


def token_digest(secret: str) -> str:
    """The stored form of a high-entropy opaque token: SHA-256, hex.

    A fast hash is right here (unlike passwords): the tokens carry >= 256 bits of randomness.
    """
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class RefreshToken:
    """One link of a refresh-token family; rotated on every use.

    Rules: usable once (``used_at``); a second use revokes the whole family; dead after ``expires_at`` (idle
    lifetime, renewed by each rotation) or ``family_expires_at`` (absolute lifetime, set at login).
    """

    id: UUID
    family_id: UUID
    user_id: UUID
    token_hash: str
    created_at: datetime
    expires_at: datetime
    family_expires_at: datetime
    used_at: datetime | None = None
    revoked_at: datetime | None = None

    def is_expired(self, now: datetime) -> bool:
        return now >= self.expires_at or now >= self.family_expires_at


@dataclass(frozen=True, slots=True)
class PersonalAccessToken:
    """A long-lived bearer token for scripts; the secret is shown once, only its digest is stored."""

    id: UUID
    user_id: UUID
    name: str
    prefix: str
    token_hash: str
    created_at: datetime
    expires_at: datetime | None = None
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None

    def is_usable(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)


def validate_token_name(raw: str) -> str:
    name = raw.strip()
    if not name or len(name) > MAX_TOKEN_NAME_LENGTH or not name.isprintable():
        raise InvalidInput(
            "The token name is not valid.",
            problems=[FieldProblem("name", f"must be 1 to {MAX_TOKEN_NAME_LENGTH} printable characters")],
        )
    return name


@dataclass(frozen=True, slots=True)
class OAuthState:
    """A pending GitHub OAuth authorization: single use, bound to a user, short-lived, with PKCE verifier."""

    id: UUID
    user_id: UUID
    state_hash: str
    code_verifier: str
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None
