"""Identity: users, roles and account status, the acting user, passwords and bearer credentials."""

from __future__ import annotations

import enum
import hashlib
import re
import unicodedata
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from uuid import UUID

from asynccoder.domain.errors import FieldProblem, Forbidden, InvalidInput

MAX_EMAIL_LENGTH = 254
MAX_EMAIL_LOCAL_PART_LENGTH = 64
MAX_DISPLAY_NAME_LENGTH = 100

# Deliberately simple: one '@', no spaces, a dot in the domain. Deliverability is proven by use, not by regex.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# RFC 5322 specials that have no place in an unquoted local part (quoted local parts are not accepted).
_LOCAL_PART_SPECIALS = frozenset('"(),:;<>[]\\')
# A host name label once in ASCII (RFC 1123): letters, digits, inner hyphens, 1..63 characters.
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
# Letters that render as nothing but are not format characters (Hangul fillers, braille blank).
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800\u180e")
# Scripts that are written together in one name (UTS #39 "highly restrictive" allows Latin with these).
_CJK = frozenset({"CJK", "HIRAGANA", "KATAKANA", "HANGUL", "BOPOMOFO", "IDEOGRAPHIC"})


class Role(enum.StrEnum):
    USER = "user"
    ADMIN = "admin"


class UserStatus(enum.StrEnum):
    ACTIVE = "active"
    DISABLED = "disabled"


def _email_problem(message: str) -> InvalidInput:
    return InvalidInput("The email address is not valid.", problems=[FieldProblem("email", message)])


def _is_invisible(char: str) -> bool:
    # Cf covers zero-width characters (U+200B..U+200D, U+2060, U+FEFF) and every bidi control
    # (U+200E/F, U+202A..U+202E, U+2066..U+2069); Cc the C0/C1 controls; variation selectors restyle emoji.
    category = unicodedata.category(char)
    return (
        category in {"Cc", "Cf", "Co", "Cs", "Cn", "Zl", "Zp"}
        or char in _BLANK_LETTERS
        or "\ufe00" <= char <= "\ufe0f"
        or "\U000e0100" <= char <= "\U000e01ef"
    )


def _scripts(text: str) -> set[str]:
    """The scripts of the letters in ``text`` (digits and punctuation belong to none)."""
    found = set()
    for char in text:
        if unicodedata.category(char).startswith("L"):
            script = unicodedata.name(char, "UNKNOWN").split(" ", 1)[0]
            found.add("CJK" if script in _CJK else script)
    return found


def _single_script(text: str) -> bool:
    """Latin with CJK is one name (Japanese, Chinese, Korean); otherwise one script only, so that
    a Cyrillic or Greek look-alike cannot hide among Latin letters."""
    return len(_scripts(text) - {"CJK"}) <= 1


def _normalize_domain(domain: str) -> str:
    domain = domain.removesuffix(".")
    if not domain or domain.startswith("[") or ".." in domain or domain.startswith("."):
        raise _email_problem("the domain must be a host name such as example.com")
    try:
        # IDNA (RFC 3490 ToASCII with nameprep, the standard library's codec) then back to Unicode: one
        # canonical spelling whether the domain arrived as Unicode or as punycode.
        ascii_domain = domain.encode("idna").decode("ascii").lower()
        unicode_domain = ascii_domain.encode("ascii").decode("idna")
    except UnicodeError:
        raise _email_problem("the domain is not a valid internationalised host name") from None
    labels = ascii_domain.split(".")
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels) or labels[-1].isdigit():
        raise _email_problem("the domain must be a host name such as example.com")
    if len(ascii_domain) > 253:
        raise _email_problem("the domain is too long")
    if not all(_single_script(label) for label in unicode_domain.split(".")):
        raise _email_problem("a domain label must not mix scripts (look-alike letters)")
    return unicode_domain


def normalize_email(raw: str) -> str:
    """Return the canonical form of an email address or raise ``InvalidInput`` naming the field ``email``.

    Canonical form: Unicode NFKC (full-width and styled letters become plain ones), lower-cased, the domain
    through IDNA and back (``xn--bcher-kva.de`` and ``Bücher.de`` are one domain). Refused: invisible,
    zero-width and bidi control characters; emoji and other symbols in the local part; letters of two
    scripts in the local part or in one domain label (a Cyrillic ``a`` among Latin letters); malformed domains
    (``a@x..io``, no dot, IP literals); quoted or dotted-wrong local parts; over-long addresses.
    """
    email = unicodedata.normalize("NFKC", raw).strip()
    if any(_is_invisible(char) for char in email):
        raise _email_problem("must not contain invisible, zero-width or bidirectional control characters")
    email = email.lower()
    if len(email) > MAX_EMAIL_LENGTH or not _EMAIL.match(email):
        raise _email_problem("must be a valid email address")
    local, _, domain = email.partition("@")
    if (
        len(local) > MAX_EMAIL_LOCAL_PART_LENGTH
        or local.startswith(".")
        or local.endswith(".")
        or ".." in local
        or any(char in _LOCAL_PART_SPECIALS for char in local)
    ):
        raise _email_problem("must be a valid email address")
    if any(not char.isascii() and unicodedata.category(char) in {"So", "Sk", "Sm"} for char in local):
        raise _email_problem("the part before @ must not contain emoji or symbols")
    if not _single_script(local):
        raise _email_problem("the part before @ must not mix scripts (look-alike letters)")
    normalized = f"{local}@{_normalize_domain(domain)}"
    if len(normalized) > MAX_EMAIL_LENGTH:
        raise _email_problem("must be a valid email address")
    return normalized


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


class CredentialKind(enum.StrEnum):
    ACCESS_TOKEN = "access_token"
    PERSONAL_ACCESS_TOKEN = "personal_access_token"
    CLERK_SESSION = "clerk_session"


@dataclass(frozen=True, slots=True)
class Actor:
    """The authenticated caller of a use case, with what is known of the credential it presented.

    ``credential`` is ``None`` for callers that presented none (the CLI, tests of single use cases);
    ``session_id`` is the refresh-token family of an access token; ``authenticated_at`` when that session's
    password login happened; ``credential_expires_at`` when the presented credential stops working.
    """

    user_id: UUID
    role: Role
    credential: CredentialKind | None = None
    session_id: UUID | None = None
    authenticated_at: datetime | None = None
    credential_expires_at: datetime | None = None

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    def require_admin(self) -> None:
        """The one admin check of every use case: ``Forbidden`` unless the caller has the admin role."""
        if not self.is_admin:
            raise Forbidden("This operation requires the admin role.")


@dataclass(frozen=True, slots=True)
class AccountStanding:
    """What authenticating a user needs of the account: role, status and the revocation point (no credential
    material, no profile)."""

    user_id: UUID
    role: Role
    status: UserStatus
    credentials_valid_after: datetime | None = None

    @property
    def can_authenticate(self) -> bool:
        return self.status is UserStatus.ACTIVE

    def accepts_token_issued_at(self, issued_at: datetime) -> bool:
        return self.credentials_valid_after is None or issued_at >= self.credentials_valid_after


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
    # Access tokens issued before this moment are refused (set on disabling and on a password change).
    credentials_valid_after: datetime | None = None

    @property
    def standing(self) -> AccountStanding:
        return AccountStanding(self.id, self.role, self.status, self.credentials_valid_after)

    @property
    def can_authenticate(self) -> bool:
        return self.standing.can_authenticate

    def accepts_token_issued_at(self, issued_at: datetime) -> bool:
        return self.standing.accepts_token_issued_at(issued_at)

    def token_issue_time(self, now: datetime) -> datetime:
        """When a token issued now says it was issued: never before the revocation point, which may lie up
        to a second ahead (token issue times have whole seconds)."""
        if self.credentials_valid_after is None:
            return now
        return max(now, self.credentials_valid_after)

    def with_credentials_revoked(self, now: datetime) -> User:
        """Move the revocation point: every token issued up to now stops working. Token issue times are
        whole seconds, so the point is the next whole second (a token of this very second is refused)."""
        point = now.replace(microsecond=0) + timedelta(seconds=1)
        return replace(self, credentials_valid_after=point, updated_at=now)

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
    # The login time of the family (carried along rotations); None for rows older than this field.
    session_started_at: datetime | None = None
    client_ip: str | None = None
    user_agent: str | None = None

    def is_expired(self, now: datetime) -> bool:
        return now >= self.expires_at or now >= self.family_expires_at

    @property
    def started_at(self) -> datetime:
        return self.session_started_at or self.created_at


@dataclass(frozen=True, slots=True)
class SignInSession:
    """A live refresh-token family as its owner sees it (``id`` is the family id)."""

    id: UUID
    started_at: datetime
    last_used_at: datetime
    expires_at: datetime
    client_ip: str | None
    user_agent: str | None


def session_of(live_link: RefreshToken) -> SignInSession:
    """A session as described by the live (newest) link of its family."""
    return SignInSession(
        id=live_link.family_id,
        started_at=live_link.started_at,
        last_used_at=live_link.created_at,
        expires_at=min(live_link.expires_at, live_link.family_expires_at),
        client_ip=live_link.client_ip,
        user_agent=live_link.user_agent,
    )


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
