"""Repositories on a code host (GitHub, or local git in development), access to them, and pull requests.

Pure rules: identifier and URL validation, permission levels, and the "newer wins" rule that keeps state from
regressing when deliveries arrive out of order.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import PurePosixPath
from urllib.parse import urlsplit
from uuid import UUID

from asynccoder.domain.errors import FieldProblem, InvalidInput

# GitHub logins/organisations: 1-39 alphanumerics or single hyphens, not at either end.
_OWNER = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$")
# Repository names: 1-100 of letters, digits, '.', '-', '_'; not '.', '..', nor ending in '.git'.
_NAME = re.compile(r"^[A-Za-z0-9._-]{1,100}$")
# Branch names (git check-ref-format, simplified and stricter): no control chars, spaces, ~^:?*[\ or '..'.
_BRANCH_FORBIDDEN = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]|\.\.|@\{|//")
MAX_BRANCH_LENGTH = 255


class Permission(enum.StrEnum):
    """A user's access level to a repository, mirrored from the code host."""

    READ = "read"
    WRITE = "write"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return {"read": 1, "write": 2, "admin": 3}[self.value]

    def allows(self, needed: Permission) -> bool:
        return self.rank >= needed.rank


class Visibility(enum.StrEnum):
    PUBLIC = "public"
    PRIVATE = "private"
    INTERNAL = "internal"


class PullRequestState(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    MERGED = "merged"


class CommentKind(enum.StrEnum):
    REVIEW_COMMENT = "review_comment"  # inline, on a line of the diff
    ISSUE_COMMENT = "issue_comment"  # on the conversation


def validate_full_name(raw: str, *, field_name: str = "full_name") -> str:
    """Return ``owner/name`` if it follows GitHub's rules, else raise ``InvalidInput``."""
    owner, sep, name = raw.strip().partition("/")
    if (
        not sep
        or not _OWNER.match(owner)
        or not _NAME.match(name)
        or name in {".", ".."}
        or name.lower().endswith(".git")
    ):
        raise InvalidInput(
            "The repository must be given as owner/name.",
            problems=[FieldProblem(field_name, "must be owner/name as GitHub spells it")],
        )
    return f"{owner}/{name}"


def validate_branch_name(raw: str, *, field_name: str = "branch") -> str:
    """Return a branch name that git accepts and that cannot be read as an option or a path escape."""
    name = raw.strip()
    bad = (
        not name
        or len(name) > MAX_BRANCH_LENGTH
        or name.startswith(("-", "/", "."))
        or name.endswith(("/", ".", ".lock"))
        or "/." in name
        or bool(_BRANCH_FORBIDDEN.search(name))
        or name == "@"
    )
    if bad:
        raise InvalidInput(
            "The branch name is not valid.",
            problems=[FieldProblem(field_name, "must be a valid git branch name")],
        )
    return name


MAX_TEST_COMMAND_LENGTH = 500


def validate_test_command(raw: str) -> str:
    """Return the repository's test command: one line of printable text (it runs only in the sandbox, as
    ``sh -c``), at most ``MAX_TEST_COMMAND_LENGTH`` characters, else raise ``InvalidInput``."""
    command = raw.strip()
    if not command or len(command) > MAX_TEST_COMMAND_LENGTH or not command.isprintable():
        raise InvalidInput(
            "The test command is not valid.",
            problems=[
                FieldProblem(
                    "test_command",
                    f"must be one line of printable text, 1 to {MAX_TEST_COMMAND_LENGTH} characters",
                )
            ],
        )
    return command


def validate_repository_url(raw: str, *, allowed_hosts: frozenset[str], allow_local_paths: bool) -> str:
    """Return a clone URL that is safe to hand to git, else raise ``InvalidInput``.

    Rules: https only, no userinfo, no query or fragment, host in ``allowed_hosts`` (github.com or the
    configured Enterprise host; an entry ``host:port`` allows that port, otherwise only 443); an absolute
    local path only when ``allow_local_paths`` (development mode), without ``..`` segments.
    """
    value = raw.strip()
    problem = InvalidInput(
        "The repository URL is not allowed.",
        problems=[FieldProblem("url", "must be an https URL on the configured GitHub host")],
    )
    if not value or any(ord(c) < 0x21 or ord(c) == 0x7F for c in value):
        raise problem
    if value.startswith("/"):
        path = PurePosixPath(value)
        if not allow_local_paths or ".." in path.parts:
            raise problem
        return str(path)
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        raise problem from None
    allowed = {h.lower() for h in allowed_hosts}
    host = (parts.hostname or "").lower()
    host_allowed = (port in (None, 443) and host in allowed) or f"{host}:{port}" in allowed
    if (
        parts.scheme != "https"
        or parts.username is not None
        or parts.password is not None
        or "@" in parts.netloc
        or parts.query
        or parts.fragment
        or not host
        or not host_allowed
    ):
        raise problem
    if ".." in PurePosixPath(parts.path).parts:
        raise problem
    return value


def newer_or_unknown(stored: datetime | None, incoming: datetime | None) -> bool:
    """Whether ``incoming`` state may replace ``stored``: never regress to an older snapshot."""
    if stored is None or incoming is None:
        return True
    return incoming >= stored


@dataclass(frozen=True, slots=True)
class Repository:
    """A code-host repository connected to the platform by at least one user.

    ``host_id`` is the code host's numeric id (GitHub's ``repository.id``; ``None`` for local repositories).
    ``clone_url`` is validated by ``validate_repository_url``. Settings: ``auto_review`` of new pull requests,
    ``default_model_id`` for tasks and reviews, ``default_base_branch`` for new pull requests,
    ``test_command`` (one shell line, see ``validate_test_command``) that Debug runs in the sandbox.
    """

    id: UUID
    host: str  # "github" or "local"
    host_id: int | None
    full_name: str
    default_branch: str
    visibility: Visibility
    html_url: str | None  # the host's web page; None for a local repository (never a server path)
    clone_url: str
    created_at: datetime
    updated_at: datetime
    auto_review: bool = False
    default_model_id: UUID | None = None
    default_base_branch: str | None = None
    test_command: str | None = None
    head_sha: str | None = None
    last_pushed_at: datetime | None = None

    @property
    def owner(self) -> str:
        return self.full_name.split("/", 1)[0]

    @property
    def name(self) -> str:
        return self.full_name.split("/", 1)[1]

    @property
    def base_branch(self) -> str:
        return self.default_base_branch or self.default_branch

    def tracks(self, branch: str) -> bool:
        return branch in {self.default_branch, self.base_branch}

    def with_settings(
        self,
        *,
        auto_review: bool,
        default_model_id: UUID | None,
        default_base_branch: str | None,
        now: datetime,
        test_command: str | None = None,
    ) -> Repository:
        return replace(
            self,
            auto_review=auto_review,
            test_command=validate_test_command(test_command) if test_command is not None else None,
            default_model_id=default_model_id,
            default_base_branch=(
                validate_branch_name(default_base_branch, field_name="default_base_branch")
                if default_base_branch is not None
                else None
            ),
            updated_at=now,
        )


@dataclass(frozen=True, slots=True)
class RepositoryAccess:
    """One user's access to one repository, as the code host reported it when last checked."""

    user_id: UUID
    repository_id: UUID
    permission: Permission
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class RepositoryWebhook:
    """The webhook the platform registered on a repository.

    ``sealed_secret`` is the signing secret sealed with ``webhook_secret_context(id, repository_id)``;
    ``host_hook_id`` is ``None`` while registration is under way.
    """

    id: UUID
    repository_id: UUID
    sealed_secret: str
    created_at: datetime
    host_hook_id: int | None = None


def webhook_secret_context(webhook_id: UUID, repository_id: UUID) -> str:
    """Associated data binding a sealed webhook secret to its row."""
    return f"repository_webhooks.sealed_secret:{webhook_id}:{repository_id}"


@dataclass(frozen=True, slots=True)
class PullRequest:
    """A pull request as last reported by the code host (or as the platform opened it).

    ``source_updated_at`` is the host's ``updated_at`` of the snapshot stored; an older snapshot never
    replaces a newer one. ``None`` marks a stub created from a comment before the pull request was seen.
    """

    id: UUID
    repository_id: UUID
    number: int
    title: str
    state: PullRequestState
    author_login: str | None
    head_ref: str
    head_sha: str | None
    base_ref: str
    html_url: str | None
    created_at: datetime
    updated_at: datetime
    body: str | None = None
    draft: bool = False
    opened_by_platform: bool = False
    merged_at: datetime | None = None
    closed_at: datetime | None = None
    source_updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class PullRequestReview:
    """A review on a pull request; ``host_review_id`` is unique per pull request when known."""

    id: UUID
    pull_request_id: UUID
    host_review_id: int | None
    author_login: str | None
    state: str  # approved, changes_requested, commented, dismissed, pending
    body: str | None
    commit_sha: str | None
    submitted_at: datetime | None
    created_at: datetime
    updated_at: datetime
    by_platform: bool = False


@dataclass(frozen=True, slots=True)
class PullRequestComment:
    """A comment on a pull request: inline (``review_comment``) or on the conversation (``issue_comment``).

    An inline comment is on ``line`` of ``path``, from ``start_line`` when it spans several lines, on ``side``
    ``RIGHT`` (the new version's line numbers) or ``LEFT`` (the old version's: removed lines); the same line
    number on the two sides is two different places."""

    id: UUID
    pull_request_id: UUID
    kind: CommentKind
    host_comment_id: int | None
    author_login: str | None
    body: str
    created_at: datetime
    updated_at: datetime
    path: str | None = None
    line: int | None = None
    review_id: int | None = None
    deleted: bool = False
    source_updated_at: datetime | None = None
    by_platform: bool = False
    side: str | None = None
    start_line: int | None = None


@dataclass(frozen=True, slots=True)
class RepositoryEvent:
    """An outbox row: follow-up work a worker does later (e.g. ``auto_review_requested``)."""

    id: UUID
    repository_id: UUID
    kind: str
    created_at: datetime
    pull_request_id: UUID | None = None
    payload: dict[str, str] = field(default_factory=dict)
    processed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class GitHubConnection:
    """The GitHub identity and OAuth token of one user (at most one connection per user).

    ``sealed_token`` is the access token encrypted by the ``SecretBox`` with the context
    ``github_connection_context(user_id)``; the plaintext token never lives in an entity.
    """

    user_id: UUID
    github_user_id: int
    login: str
    sealed_token: str
    scopes: tuple[str, ...]
    created_at: datetime
    updated_at: datetime


def github_connection_context(user_id: UUID) -> str:
    """Associated data that binds a sealed GitHub token to its owner's row."""
    return f"github_connections.sealed_token:{user_id}"
