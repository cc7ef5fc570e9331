"""Identity: users, roles and account status, the acting user, passwords and bearer credentials."""

from __future__ import annotations

import enum
import hashlib
import re
from dataclasses import dataclass, replace
from datetime import datetime
from uuid import UUID

from asynccoder.domain.errors import FieldProblem, Forbidden, InvalidInput

MAX_EMAIL_LENGTH = 254
MAX_DISPLAY_NAME_LENGTH = 100

# Deliberately simple: one '@', no spaces, a dot in the domain. Deliverability is proven by use, not by regex.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class Role(enum.StrEnum):
    USER = "user"
    ADMIN = "admin"


class UserStatus(enum.StrEnum):
    ACTIVE = "active"
    DISABLED = "disabled"


def normalize_email(raw: str) -> str:
    """Return the canonical form of an email address (trimmed, lower-cased) or raise ``InvalidInput``."""
    email = raw.strip().lower()
    if len(email) > MAX_EMAIL_LENGTH or not _EMAIL.match(email):
        raise InvalidInput(
            "The email address is not valid.",
            problems=[FieldProblem("email", "must be a valid email address")],
        )
    return email


def validate_display_name(raw: str) -> str:
    """Return a trimmed display name or raise ``InvalidInput``: 1..100 printable characters."""
    name = raw.strip()
    if not name or len(name) > MAX_DISPLAY_NAME_LENGTH or not name.isprintable():
        raise InvalidInput(
            "The display name is not valid.",
            problems=[
                FieldProblem("display_name", f"must be 1 to {MAX_DISPLAY_NAME_LENGTH} printable characters")
            ],
        )
    return name


@dataclass(frozen=True, slots=True)
class Actor:
    """The authenticated caller of a use case."""

    user_id: UUID
    role: Role

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    def require_admin(self) -> None:
        """The one admin check of every use case: ``Forbidden`` unless the caller has the admin role."""
        if not self.is_admin:
            raise Forbidden("This operation requires the admin role.")


@dataclass(frozen=True, slots=True)
class User:
    """A person (or service account) using the platform.

    Rules: the email is normalised and unique; a disabled user cannot authenticate.
    """

    id: UUID
    email: str
    display_name: str
    role: Role
    status: UserStatus
    created_at: datetime
    updated_at: datetime
    password_hash: str | None = None
    clerk_user_id: str | None = None
    github_login: str | None = None

    @property
    def can_authenticate(self) -> bool:
        return self.status is UserStatus.ACTIVE

    def as_actor(self) -> Actor:
        return Actor(user_id=self.id, role=self.role)

    def with_profile(self, *, display_name: str, now: datetime) -> User:
        return replace(self, display_name=validate_display_name(display_name), updated_at=now)


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
