"""Ports of code hosting: the code host API, git transport, GitHub OAuth and connections, repository data."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol
from uuid import UUID

from asynccoder.domain.code_hosting import (
    GitHubConnection,
    Permission,
    PullRequest,
    PullRequestComment,
    PullRequestReview,
    PullRequestState,
    Repository,
    RepositoryAccess,
    RepositoryEvent,
    RepositoryWebhook,
    Visibility,
)


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


class GitHubConnectionRepository(Protocol):
    """Stores each user's GitHub connection; ``save`` inserts or replaces the user's one connection."""

    async def save(self, connection: GitHubConnection) -> None: ...

    async def get(self, user_id: UUID) -> GitHubConnection | None: ...

    async def delete(self, user_id: UUID) -> bool: ...


# ---------------------------------------------------------------------------------------------------------
# The code host (GitHub API or the local-git development host)


@dataclass(frozen=True, slots=True)
class HostedRepository:
    """A repository as the code host describes it to one user (``permission`` is that user's level)."""

    host_id: int | None
    full_name: str
    default_branch: str
    visibility: Visibility
    permission: Permission
    html_url: str | None  # None for a local repository: its only address is a path on the server
    clone_url: str


@dataclass(frozen=True, slots=True)
class RepositoryPage:
    items: list[HostedRepository]
    next_page: int | None


@dataclass(frozen=True, slots=True)
class HostedPullRequest:
    number: int
    title: str
    body: str | None
    state: PullRequestState
    author_login: str | None
    head_ref: str
    head_sha: str | None
    base_ref: str
    html_url: str | None
    draft: bool
    created_at: datetime | None
    updated_at: datetime | None
    merged_at: datetime | None = None
    closed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ChangedFile:
    filename: str
    status: str  # added, modified, removed, renamed, ...
    additions: int
    deletions: int
    patch: str | None = None
    previous_filename: str | None = None


@dataclass(frozen=True, slots=True)
class PullRequestDetails:
    pull_request: HostedPullRequest
    files: list[ChangedFile]
    diff: str


@dataclass(frozen=True, slots=True)
class InlineComment:
    """A review comment on ``line`` of ``path``, from ``start_line`` when it spans several lines (one hunk);
    ``side`` RIGHT numbers lines on the new side of the diff, LEFT on the old side (removed lines)."""

    path: str
    line: int
    body: str
    side: str = "RIGHT"
    start_line: int | None = None


@dataclass(frozen=True, slots=True)
class PostedReview:
    host_review_id: int | None
    state: str
    submitted_at: datetime | None


@dataclass(frozen=True, slots=True)
class PostedComment:
    host_comment_id: int | None
    created_at: datetime | None


@dataclass(frozen=True, slots=True)
class WebhookRegistration:
    url: str
    secret: str = field(repr=False)
    events: tuple[str, ...] = (
        "pull_request",
        "pull_request_review",
        "pull_request_review_comment",
        "issue_comment",
        "push",
        "repository",
        "member",
    )


# --- webhook deliveries -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    """One HTTP delivery: the headers GitHub sets and the raw body exactly as received."""

    event: str | None
    delivery_id: str | None
    signature: str | None
    body: bytes


@dataclass(frozen=True, slots=True)
class HostRepositoryRef:
    """A repository named by a delivery: the host's id and/or ``owner/name`` (as sent; ``""`` if absent)."""

    host_id: int | None
    full_name: str


@dataclass(frozen=True, slots=True)
class WebhookEnvelope:
    """What is read before the signature is checked: the repository the delivery claims to be about."""

    repository: HostRepositoryRef | None


@dataclass(frozen=True, slots=True)
class PullRequestSnapshot:
    """A pull request as the delivery describes it (text as sent; the use case bounds it)."""

    number: int
    title: str | None
    body: str | None
    state: PullRequestState
    draft: bool
    author_login: str | None
    head_ref: str | None
    head_sha: str | None
    base_ref: str | None
    html_url: str | None
    merged_at: datetime | None
    closed_at: datetime | None
    updated_at: datetime | None
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ReviewSnapshot:
    host_review_id: int | None
    author_login: str | None
    state: str | None
    body: str | None
    commit_sha: str | None
    submitted_at: datetime | None


@dataclass(frozen=True, slots=True)
class CommentSnapshot:
    """``line`` is the current line or, on an outdated diff, the original one; ``updated_at`` falls back to
    the creation time; both times are GitHub's."""

    host_comment_id: int
    author_login: str | None
    body: str | None
    path: str | None
    line: int | None
    review_id: int | None
    updated_at: datetime | None
    author_is_bot: bool = False
    created_at: datetime | None = None
    side: str | None = None  # RIGHT or LEFT (inline comments only)
    start_line: int | None = None


@dataclass(frozen=True, slots=True)
class PingDelivered:
    pass


@dataclass(frozen=True, slots=True)
class PullRequestDelivered:
    action: str | None
    pull_request: PullRequestSnapshot | None


@dataclass(frozen=True, slots=True)
class ReviewDelivered:
    action: str | None
    review: ReviewSnapshot | None
    pull_request: PullRequestSnapshot | None


@dataclass(frozen=True, slots=True)
class ReviewCommentDelivered:
    action: str | None
    comment: CommentSnapshot | None
    pull_request: PullRequestSnapshot | None


@dataclass(frozen=True, slots=True)
class IssueCommentDelivered:
    """A comment on an issue; ``on_pull_request`` when the issue is a pull request."""

    action: str | None
    issue_number: int | None
    issue_title: str | None
    on_pull_request: bool
    comment: CommentSnapshot | None


@dataclass(frozen=True, slots=True)
class PushDelivered:
    """``pushed_at``: the repository's push time, else the head commit's, ``None`` if neither is readable."""

    ref: str
    after: str | None
    deleted: bool
    pushed_at: datetime | None


@dataclass(frozen=True, slots=True)
class RepositoryChanged:
    """A ``repository`` event with the repository as GitHub now describes it (``None`` where absent)."""

    action: str | None
    full_name: str | None
    default_branch: str | None = None
    visibility: Visibility | None = None


@dataclass(frozen=True, slots=True)
class RepositoriesRemoved:
    """An installation lost access to repositories (``installation_repositories``)."""

    action: str | None
    removed: tuple[HostRepositoryRef, ...]


@dataclass(frozen=True, slots=True)
class MemberChanged:
    """A collaborator was removed or edited; ``github_user_id`` identifies them (logins can be renamed);
    ``permission`` is the new level when the payload names one we know (GitHub's ``member edited`` usually
    carries only ``changes.old_permission``, so the use case asks the API)."""

    action: str | None
    login: str
    permission: Permission | None
    github_user_id: int | None = None


WebhookEvent = (
    PingDelivered
    | PullRequestDelivered
    | ReviewDelivered
    | ReviewCommentDelivered
    | IssueCommentDelivered
    | PushDelivered
    | RepositoryChanged
    | RepositoriesRemoved
    | MemberChanged
)


class WebhookDecoder(Protocol):
    """The code host's webhook format: signature check and decoding of the raw body into typed events.
    Failures raise ``InvalidInput``: ``webhook_signature_missing``, ``webhook_payload_invalid`` (also when
    the body's shape is not that of the announced event: the event header is not covered by the
    signature)."""

    def read_envelope(self, delivery: WebhookDelivery) -> WebhookEnvelope:
        """Check that a signature is present and read the repository the delivery names (nothing verified)."""
        ...

    def verifies(self, delivery: WebhookDelivery, secrets: list[str]) -> bool:
        """Whether the signature is that of the raw body under one of ``secrets`` (constant-time compare)."""
        ...

    def decode(self, delivery: WebhookDelivery) -> WebhookEvent | None:
        """The typed event of a verified delivery; ``None`` for an event the platform does not handle."""
        ...


class CodeHost(Protocol):
    """The code host's API, acting as the user whose ``token`` is given.

    Errors: ``NotFound`` (code ``code_host_not_found``) when the object is missing or invisible to the token;
    ``Refused`` code ``code_host_forbidden`` for 403 and ``code_host_reauthorization_required`` for bad
    credentials; ``TooManyRequests`` (code ``code_host_rate_limited``, ``retry_after`` until the reset) when
    rate-limited; ``Unavailable`` when the host cannot be reached or fails.
    """

    name: str  # "github" or "local": stored as ``Repository.host``
    requires_token: bool  # False for the local development host
    supports_webhooks: bool

    async def list_repositories(self, token: str, *, page: int, per_page: int) -> RepositoryPage: ...

    async def get_repository(self, token: str, full_name: str) -> HostedRepository: ...

    async def register_webhook(self, token: str, full_name: str, hook: WebhookRegistration) -> int | None:
        """Creates the hook, or takes over the repository's existing hook with the same URL (new secret and
        events, active) when the host refuses a duplicate; returns the host's hook id."""
        ...

    async def remove_webhook(self, token: str, full_name: str, hook_id: int) -> None: ...

    async def collaborator_permission(self, token: str, full_name: str, login: str) -> Permission | None:
        """``login``'s level on the repository as the host reports it to ``token``'s user (who needs write
        access to ask); ``None`` when ``login`` has no access."""
        ...

    async def read_pull_request(self, token: str, full_name: str, number: int) -> PullRequestDetails: ...

    async def find_open_pull_request(
        self, token: str, full_name: str, head_branch: str
    ) -> HostedPullRequest | None: ...

    async def open_pull_request(
        self, token: str, full_name: str, *, head: str, base: str, title: str, body: str, draft: bool = False
    ) -> HostedPullRequest: ...

    async def post_review(
        self,
        token: str,
        full_name: str,
        number: int,
        *,
        body: str,
        event: str,
        comments: list[InlineComment],
        commit_sha: str | None = None,
    ) -> PostedReview:
        """Posts one review. Raises ``Refused`` with code ``review_comment_rejected`` when the host refuses
        an inline comment (a line, range or path its diff does not have): nothing was posted."""
        ...

    async def post_issue_comment(
        self, token: str, full_name: str, number: int, body: str
    ) -> PostedComment: ...


class GitTransport(Protocol):
    """Clones, branches, commits and pushes with the git CLI.

    The token travels only in an HTTP header for the duration of one command: it is never written to
    ``.git/config``, argv of a long-lived process, logs or error messages. Hooks are disabled, submodules are
    not fetched, only https (and local paths in development) are allowed. Failures raise ``Unavailable``
    (code ``git_failed``) with a message free of the token.
    """

    async def clone(self, url: str, destination: Path, *, branch: str | None, token: str | None) -> None: ...

    async def create_branch(self, workdir: Path, branch: str) -> None: ...

    async def commit_all(
        self, workdir: Path, message: str, *, author_name: str, author_email: str
    ) -> str: ...

    async def push(self, workdir: Path, branch: str, *, token: str | None) -> None: ...

    async def rev_parse(self, workdir: Path, ref: str) -> str: ...

    async def remote_branch_head(self, workdir: Path, branch: str, *, token: str | None) -> str | None:
        """The sha of ``branch`` on the remote, or None when it does not exist there."""
        ...

    async def push_with_lease(
        self, workdir: Path, branch: str, *, token: str | None, expected_remote_sha: str | None
    ) -> None:
        """Pushes HEAD to ``branch`` only if the remote branch is still at ``expected_remote_sha`` (None =
        must not exist): a retry replaces its own earlier push, never someone else's newer commits."""
        ...

    async def diff(self, workdir: Path, against: str) -> str:
        """The working tree, untracked files included (not ignored ones), as a unified diff against
        ``against``; the real index is left alone, external diff and textconv drivers are not run."""
        ...

    async def changed_files(self, workdir: Path, against: str) -> tuple[str, ...]: ...

    async def checkout_pull_request(self, workdir: Path, number: int, *, token: str | None) -> None:
        """Fetches ``refs/pull/<number>/head`` (forks included) shallowly and checks it out detached."""
        ...


# ---------------------------------------------------------------------------------------------------------
# Persistence


@dataclass(frozen=True, slots=True)
class AccessibleRepository:
    repository: Repository
    permission: Permission
    webhook_active: bool = False


class RepositoryRepository(Protocol):
    """Connected repositories with each user's access row and the repository's webhook.

    ``add`` raises ``Conflict`` (``repository_exists``) for a duplicate ``(host, host_id)`` or full name.
    ``add_webhook_if_absent`` is a single conditional insert: it returns False when the repository already
    has a webhook row (another user won the race).
    """

    async def add(self, repository: Repository) -> None: ...

    async def get(self, repository_id: UUID) -> Repository | None: ...

    async def find(self, host: str, host_id: int | None, full_name: str) -> Repository | None: ...

    async def update(self, repository: Repository) -> None: ...

    async def record_push(self, repository_id: UUID, head_sha: str, pushed_at: datetime) -> bool: ...

    async def save_access(self, access: RepositoryAccess) -> None: ...

    async def get_access(self, user_id: UUID, repository_id: UUID) -> RepositoryAccess | None: ...

    async def list_access(self, repository_id: UUID) -> list[RepositoryAccess]: ...

    async def delete_access(self, user_id: UUID, repository_id: UUID) -> bool: ...

    async def delete_all_access(self, repository_id: UUID) -> int: ...

    async def list_for_user(
        self, user_id: UUID, *, limit: int, before: UUID | None
    ) -> list[AccessibleRepository]: ...

    async def add_webhook_if_absent(self, webhook: RepositoryWebhook) -> bool: ...

    async def get_webhook(self, repository_id: UUID) -> RepositoryWebhook | None: ...

    async def set_webhook_host_id(self, webhook_id: UUID, host_hook_id: int | None) -> None: ...

    async def delete_webhook(self, repository_id: UUID) -> RepositoryWebhook | None: ...


class PullRequestRepository(Protocol):
    """Pull requests, reviews and comments; ``upsert*`` never replace a newer snapshot with an older one.

    ``upsert`` inserts by ``(repository_id, number)`` or updates when the incoming ``source_updated_at`` is
    not older (a stored ``None`` is always replaced); it returns the stored row afterwards.
    """

    async def upsert(self, pull_request: PullRequest) -> PullRequest: ...

    async def get(self, pull_request_id: UUID) -> PullRequest | None: ...

    async def get_by_number(self, repository_id: UUID, number: int) -> PullRequest | None: ...

    async def list_for_repository(
        self, repository_id: UUID, *, state: PullRequestState | None, limit: int, before: UUID | None
    ) -> list[PullRequest]: ...

    async def upsert_review(self, review: PullRequestReview) -> None: ...

    async def list_reviews(self, pull_request_id: UUID) -> list[PullRequestReview]: ...

    async def upsert_comment(self, comment: PullRequestComment) -> None: ...

    async def list_comments(self, pull_request_id: UUID) -> list[PullRequestComment]: ...


class GitHubDeliveryRepository(Protocol):
    """Seen webhook deliveries: ``record`` is INSERT ... ON CONFLICT DO NOTHING, True only for the first."""

    async def record(self, delivery_id: str, event: str, received_at: datetime) -> bool: ...

    async def seen(self, delivery_id: str) -> bool:
        """Whether ``delivery_id`` was recorded (a cheap look-up before any verification work)."""
        ...

    async def delete_received_before(self, cutoff: datetime, *, limit: int) -> int:
        """Deletes up to ``limit`` delivery rows received before ``cutoff``; returns how many."""
        ...


class RepositoryEventRepository(Protocol):
    """The outbox of follow-up work for workers; oldest first."""

    async def add(self, event: RepositoryEvent) -> None: ...

    async def list_pending(self, *, limit: int) -> list[RepositoryEvent]: ...

    async def get(self, event_id: UUID) -> RepositoryEvent | None: ...

    async def mark_processed(
        self, event_id: UUID, processed_at: datetime, *, payload: dict[str, str] | None = None
    ) -> bool:
        """Marks a pending event processed (``False`` if it already was); ``payload``, when given, replaces
        the stored one (the consumer records its outcome there)."""
        ...
