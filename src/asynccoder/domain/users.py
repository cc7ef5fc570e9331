"""Users: identity, roles and account status."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, replace
from datetime import datetime
from uuid import UUID

from asynccoder.domain.errors import FieldProblem, InvalidInput

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
