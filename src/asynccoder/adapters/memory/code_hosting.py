"""In-memory code hosting: the code host, GitHub OAuth and connections, repositories, pull requests."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import secrets
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from urllib.parse import urlencode
from uuid import UUID

from asynccoder.adapters.memory.store import CodeHostingState, InMemoryStore
from asynccoder.application.ports.code_hosting import (
    AccessibleRepository,
    ChangedFile,
    CodeHost,
    GitHubConnectionRepository,
    GitHubDeliveryRepository,
    GitHubGrant,
    GitHubIdentity,
    GitHubOAuth,
    HostedPullRequest,
    HostedRepository,
    InlineComment,
    PostedComment,
    PostedReview,
    PullRequestDetails,
    PullRequestRepository,
    RepositoryEventRepository,
    RepositoryPage,
    RepositoryRepository,
    WebhookRegistration,
)
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
    newer_or_unknown,
)
from asynccoder.domain.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    Refused,
    TooManyRequests,
    Unavailable,
)


@dataclass
class _PendingGrant:
    challenge: str
    redirect_uri: str
    identity: GitHubIdentity
    used: bool = False


class InMemoryGitHubOAuth(GitHubOAuth):
    """GitHub's OAuth rules without the network: ``approve`` plays the user authorizing and returns a code;
    codes are single use and need the PKCE verifier and redirect URI they were issued for."""

    def __init__(self, *, client_id: str = "in-memory-client", scopes: tuple[str, ...] = ("repo",)) -> None:
        self._client_id = client_id
        self._scopes = scopes
        self._grants: dict[str, _PendingGrant] = {}
        self._tokens: dict[str, GitHubIdentity] = {}

    @property
    def configured(self) -> bool:
        return True

    def authorize_url(self, *, state: str, code_challenge: str, redirect_uri: str) -> str:
        query = urlencode(
            {
                "client_id": self._client_id,
                "redirect_uri": redirect_uri,
                "scope": " ".join(self._scopes),
                "state": state,
                "code_challenge": code_challenge,
                "code_challenge_method": "S256",
            }
        )
        return f"https://github.invalid/login/oauth/authorize?{query}"

    def approve(self, *, code_challenge: str, redirect_uri: str, identity: GitHubIdentity) -> str:
        code = secrets.token_hex(10)
        self._grants[code] = _PendingGrant(code_challenge, redirect_uri, identity)
        return code

    async def exchange_code(self, *, code: str, code_verifier: str, redirect_uri: str) -> GitHubGrant:
        grant = self._grants.get(code)
        challenge = (
            base64.urlsafe_b64encode(hashlib.sha256(code_verifier.encode()).digest()).decode().rstrip("=")
        )
        if grant is None or grant.used or grant.redirect_uri != redirect_uri or grant.challenge != challenge:
            raise InvalidInput("GitHub did not accept the authorization code.", code="github_code_rejected")
        grant.used = True
        token = "gho_" + secrets.token_hex(18)
        self._tokens[token] = grant.identity
        return GitHubGrant(access_token=token, scopes=self._scopes)

    async def identity(self, access_token: str) -> GitHubIdentity:
        identity = self._tokens.get(access_token)
        if identity is None:
            raise InvalidInput("GitHub did not accept the new token.", code="github_code_rejected")
        return identity


class _Base:
    def __init__(self, store: InMemoryStore) -> None:
        self._store = store

    @property
    def _s(self) -> CodeHostingState:
        return self._store.state.code_hosting


class InMemoryRepositoryRepository(_Base, RepositoryRepository):
    async def add(self, repository: Repository) -> None:
        for other in self._s.repositories.values():
            same_id = repository.host_id is not None and (other.host, other.host_id) == (
                repository.host,
                repository.host_id,
            )
            if (
                other.id == repository.id
                or same_id
                or (other.host, other.full_name)
                == (
                    repository.host,
                    repository.full_name,
                )
            ):
                raise Conflict("This repository is already connected.", code="repository_exists")
        self._s.repositories[repository.id] = repository

    async def get(self, repository_id: UUID) -> Repository | None:
        return self._s.repositories.get(repository_id)

    async def find(self, host: str, host_id: int | None, full_name: str) -> Repository | None:
        repos = [r for r in self._s.repositories.values() if r.host == host]
        if host_id is not None:
            match = next((r for r in repos if r.host_id == host_id), None)
            if match is not None:
                return match
        return next((r for r in repos if r.full_name.lower() == full_name.lower()), None)

    async def update(self, repository: Repository) -> None:
        if repository.id not in self._s.repositories:
            return
        for other in self._s.repositories.values():
            if other.id != repository.id and (other.host, other.full_name.lower()) == (
                repository.host,
                repository.full_name.lower(),
            ):
                raise Conflict("Another repository already has this name.", code="repository_exists")
        self._s.repositories[repository.id] = repository

    async def record_push(self, repository_id: UUID, head_sha: str, pushed_at: datetime) -> bool:
        repo = self._s.repositories.get(repository_id)
        if repo is None or not newer_or_unknown(repo.last_pushed_at, pushed_at):
            return False
        self._s.repositories[repository_id] = dataclasses.replace(
            repo, head_sha=head_sha, last_pushed_at=pushed_at
        )
        return True

    async def save_access(self, access: RepositoryAccess) -> None:
        key = (access.user_id, access.repository_id)
        existing = self._s.access.get(key)
        if existing is not None:
            access = dataclasses.replace(access, created_at=existing.created_at)
        self._s.access[key] = access

    async def get_access(self, user_id: UUID, repository_id: UUID) -> RepositoryAccess | None:
        return self._s.access.get((user_id, repository_id))

    async def list_access(self, repository_id: UUID) -> list[RepositoryAccess]:
        return sorted(
            (a for a in self._s.access.values() if a.repository_id == repository_id), key=lambda a: a.user_id
        )

    async def delete_access(self, user_id: UUID, repository_id: UUID) -> bool:
        return self._s.access.pop((user_id, repository_id), None) is not None

    async def delete_all_access(self, repository_id: UUID) -> int:
        keys = [k for k in self._s.access if k[1] == repository_id]
        for key in keys:
            del self._s.access[key]
        return len(keys)

    async def list_for_user(
        self, user_id: UUID, *, limit: int, before: UUID | None
    ) -> list[AccessibleRepository]:
        rows = [
            AccessibleRepository(
                self._s.repositories[a.repository_id], a.permission, a.repository_id in self._s.webhooks
            )
            for a in self._s.access.values()
            if a.user_id == user_id and (before is None or a.repository_id < before)
        ]
        rows.sort(key=lambda r: r.repository.id, reverse=True)
        return rows[:limit]

    async def add_webhook_if_absent(self, webhook: RepositoryWebhook) -> bool:
        if webhook.repository_id in self._s.webhooks:
            return False
        self._s.webhooks[webhook.repository_id] = webhook
        return True

    async def get_webhook(self, repository_id: UUID) -> RepositoryWebhook | None:
        return self._s.webhooks.get(repository_id)

    async def set_webhook_host_id(self, webhook_id: UUID, host_hook_id: int | None) -> None:
        for repo_id, hook in self._s.webhooks.items():
            if hook.id == webhook_id:
                self._s.webhooks[repo_id] = dataclasses.replace(hook, host_hook_id=host_hook_id)
                return

    async def delete_webhook(self, repository_id: UUID) -> RepositoryWebhook | None:
        return self._s.webhooks.pop(repository_id, None)


class InMemoryPullRequestRepository(_Base, PullRequestRepository):
    async def upsert(self, pull_request: PullRequest) -> PullRequest:
        existing = await self.get_by_number(pull_request.repository_id, pull_request.number)
        if existing is None:
            self._s.pull_requests[pull_request.id] = pull_request
            return pull_request
        if existing.source_updated_at is None or (
            pull_request.source_updated_at is not None
            and pull_request.source_updated_at >= existing.source_updated_at
        ):
            stored = dataclasses.replace(
                pull_request,
                id=existing.id,
                created_at=existing.created_at,
                opened_by_platform=existing.opened_by_platform or pull_request.opened_by_platform,
            )
            self._s.pull_requests[existing.id] = stored
            return stored
        return existing

    async def get(self, pull_request_id: UUID) -> PullRequest | None:
        return self._s.pull_requests.get(pull_request_id)

    async def get_by_number(self, repository_id: UUID, number: int) -> PullRequest | None:
        return next(
            (
                p
                for p in self._s.pull_requests.values()
                if p.repository_id == repository_id and p.number == number
            ),
            None,
        )

    async def list_for_repository(
        self, repository_id: UUID, *, state: PullRequestState | None, limit: int, before: UUID | None
    ) -> list[PullRequest]:
        rows = [
            p
            for p in self._s.pull_requests.values()
            if p.repository_id == repository_id
            and (state is None or p.state is state)
            and (before is None or p.id < before)
        ]
        rows.sort(key=lambda p: p.id, reverse=True)
        return rows[:limit]

    async def upsert_review(self, review: PullRequestReview) -> None:
        existing = (
            next(
                (
                    r
                    for r in self._s.reviews.values()
                    if r.pull_request_id == review.pull_request_id
                    and r.host_review_id == review.host_review_id
                ),
                None,
            )
            if review.host_review_id is not None
            else None
        )
        if existing is None:
            self._s.reviews[review.id] = review
            return
        if existing.state == "dismissed" and review.state != "dismissed":
            return  # dismissal is final: a late "submitted" cannot revive the review
        self._s.reviews[existing.id] = dataclasses.replace(
            review, id=existing.id, created_at=existing.created_at
        )

    async def list_reviews(self, pull_request_id: UUID) -> list[PullRequestReview]:
        return sorted(
            (r for r in self._s.reviews.values() if r.pull_request_id == pull_request_id), key=lambda r: r.id
        )

    async def upsert_comment(self, comment: PullRequestComment) -> None:
        existing = (
            next(
                (
                    c
                    for c in self._s.comments.values()
                    if c.kind is comment.kind and c.host_comment_id == comment.host_comment_id
                ),
                None,
            )
            if comment.host_comment_id is not None
            else None
        )
        if existing is None:
            self._s.comments[comment.id] = comment
            return
        if existing.deleted:
            return  # deletion is final
        if not comment.deleted and not newer_or_unknown(
            existing.source_updated_at, comment.source_updated_at
        ):
            return
        self._s.comments[existing.id] = dataclasses.replace(
            comment, id=existing.id, created_at=existing.created_at, pull_request_id=existing.pull_request_id
        )

    async def list_comments(self, pull_request_id: UUID) -> list[PullRequestComment]:
        return sorted(
            (c for c in self._s.comments.values() if c.pull_request_id == pull_request_id), key=lambda c: c.id
        )


class InMemoryGitHubDeliveryRepository(_Base, GitHubDeliveryRepository):
    async def record(self, delivery_id: str, event: str, received_at: datetime) -> bool:
        if delivery_id in self._s.deliveries:
            return False
        self._s.deliveries[delivery_id] = (event, received_at)
        return True

    async def seen(self, delivery_id: str) -> bool:
        return delivery_id in self._s.deliveries

    async def delete_received_before(self, cutoff: datetime, *, limit: int) -> int:
        old = [key for key, (_, received_at) in self._s.deliveries.items() if received_at < cutoff][:limit]
        for key in old:
            del self._s.deliveries[key]
        return len(old)


class InMemoryRepositoryEventRepository(_Base, RepositoryEventRepository):
    async def add(self, event: RepositoryEvent) -> None:
        self._s.events[event.id] = event

    async def list_pending(self, *, limit: int) -> list[RepositoryEvent]:
        pending = sorted((e for e in self._s.events.values() if e.processed_at is None), key=lambda e: e.id)
        return pending[:limit]

    async def get(self, event_id: UUID) -> RepositoryEvent | None:
        return self._s.events.get(event_id)

    async def mark_processed(
        self, event_id: UUID, processed_at: datetime, *, payload: dict[str, str] | None = None
    ) -> bool:
        event = self._s.events.get(event_id)
        if event is None or event.processed_at is not None:
            return False
        self._s.events[event_id] = dataclasses.replace(
            event,
            processed_at=processed_at,
            payload=dict(payload) if payload is not None else event.payload,
        )
        return True


class InMemoryGitHubConnectionRepository(GitHubConnectionRepository):
    def __init__(self, store: InMemoryStore) -> None:
        self._store = store

    async def save(self, connection: GitHubConnection) -> None:
        existing = self._store.state.github_connections.get(connection.user_id)
        if existing is not None:
            connection = dataclasses.replace(connection, created_at=existing.created_at)
        self._store.state.github_connections[connection.user_id] = connection

    async def get(self, user_id: UUID) -> GitHubConnection | None:
        return self._store.state.github_connections.get(user_id)

    async def delete(self, user_id: UUID) -> bool:
        return self._store.state.github_connections.pop(user_id, None) is not None


@dataclass
class StoredRepository:
    host_id: int
    full_name: str
    default_branch: str = "main"
    visibility: Visibility = Visibility.PRIVATE
    branches: dict[str, str] = field(default_factory=lambda: {"main": "0" * 39 + "1"})
    access: dict[str, Permission] = field(default_factory=dict)  # token -> permission


@dataclass
class StoredHook:
    id: int
    full_name: str
    registration: WebhookRegistration


@dataclass
class StoredReview:
    id: int
    full_name: str
    number: int
    body: str
    event: str
    comments: list[InlineComment]


class InMemoryCodeHost(CodeHost):
    name = "github"
    requires_token = True
    supports_webhooks = True

    def __init__(self, *, now: datetime | None = None) -> None:
        self.repositories: dict[str, StoredRepository] = {}
        self.tokens: set[str] = set()
        self.hooks: dict[int, StoredHook] = {}
        self.pulls: dict[tuple[str, int], HostedPullRequest] = {}
        self.reviews: list[StoredReview] = []
        self.comments: list[tuple[str, int, str]] = []
        self.rate_limited_for: int | None = None
        self.down = False
        self.fail_webhooks = False
        self.moved: dict[str, str] = {}  # old name -> new name: GitHub redirects a transferred repository
        self.logins: dict[str, str] = {}  # lowercased login -> that user's token
        self._next_id = 1000
        self._now = now or datetime(2026, 1, 1, tzinfo=UTC)

    # --- arranging --------------------------------------------------------------------------------------

    def add_repository(
        self, full_name: str, *, host_id: int, access: dict[str, Permission], **kw: object
    ) -> None:
        self.repositories[full_name.lower()] = StoredRepository(host_id, full_name, access=dict(access), **kw)  # type: ignore[arg-type]
        self.tokens.update(access)

    def add_token(self, token: str) -> None:
        self.tokens.add(token)

    def transfer(self, full_name: str, new_full_name: str) -> None:
        repo = self.repositories.pop(full_name.lower())
        repo.full_name = new_full_name
        self.repositories[new_full_name.lower()] = repo
        self.moved[full_name.lower()] = new_full_name.lower()
        for hook in self.hooks.values():
            if hook.full_name == full_name:
                hook.full_name = new_full_name

    # --- helpers ----------------------------------------------------------------------------------------

    def _id(self) -> int:
        self._next_id += 1
        return self._next_id

    def _check(self, token: str) -> None:
        if self.down:
            raise Unavailable("GitHub could not be reached.", code="code_host_unavailable")
        if self.rate_limited_for is not None:
            raise TooManyRequests(
                "Rate limited.", retry_after=self.rate_limited_for, code="code_host_rate_limited"
            )
        if token not in self.tokens:
            raise Refused("Bad credentials.", code="code_host_reauthorization_required")

    def _repo(self, token: str, full_name: str, needs: Permission = Permission.READ) -> StoredRepository:
        self._check(token)
        key = full_name.lower()
        repo = self.repositories.get(self.moved.get(key, key))
        if repo is None or token not in repo.access:
            raise NotFound("No such repository.", code="code_host_not_found")
        if not repo.access[token].allows(needs):
            if needs is Permission.ADMIN:
                raise NotFound("No such repository.", code="code_host_not_found")  # GitHub hides hooks
            raise Refused("Forbidden.", code="code_host_forbidden")
        return repo

    def _hosted(self, repo: StoredRepository, token: str) -> HostedRepository:
        return HostedRepository(
            host_id=repo.host_id,
            full_name=repo.full_name,
            default_branch=repo.default_branch,
            visibility=repo.visibility,
            permission=repo.access[token],
            html_url=f"https://github.com/{repo.full_name}",
            clone_url=f"https://github.com/{repo.full_name}.git",
        )

    # --- the port ---------------------------------------------------------------------------------------

    async def list_repositories(self, token: str, *, page: int, per_page: int) -> RepositoryPage:
        self._check(token)
        visible = [r for r in self.repositories.values() if token in r.access]
        start = (page - 1) * per_page
        items = [self._hosted(r, token) for r in visible[start : start + per_page]]
        return RepositoryPage(items, page + 1 if start + per_page < len(visible) else None)

    async def get_repository(self, token: str, full_name: str) -> HostedRepository:
        return self._hosted(self._repo(token, full_name), token)

    async def register_webhook(self, token: str, full_name: str, hook: WebhookRegistration) -> int | None:
        repo = self._repo(token, full_name, Permission.ADMIN)
        if self.fail_webhooks:
            raise Refused("Validation Failed.", code="code_host_rejected")
        for existing in self.hooks.values():
            if existing.full_name == repo.full_name and existing.registration.url == hook.url:
                existing.registration = hook  # GitHub refuses a duplicate URL; the platform takes it over
                return existing.id
        hook_id = self._id()
        self.hooks[hook_id] = StoredHook(hook_id, repo.full_name, hook)
        return hook_id

    async def collaborator_permission(self, token: str, full_name: str, login: str) -> Permission | None:
        repo = self._repo(token, full_name, Permission.WRITE)
        member = self.logins.get(login.lower())
        return repo.access.get(member) if member is not None else None

    async def remove_webhook(self, token: str, full_name: str, hook_id: int) -> None:
        repo = self._repo(token, full_name, Permission.ADMIN)
        hook = self.hooks.get(hook_id)
        if hook is None or hook.full_name != repo.full_name:
            raise NotFound("No such hook.", code="code_host_not_found")
        del self.hooks[hook_id]

    async def read_pull_request(self, token: str, full_name: str, number: int) -> PullRequestDetails:
        repo = self._repo(token, full_name)
        pull = self.pulls.get((repo.full_name, number))
        if pull is None:
            raise NotFound("No such pull request.", code="code_host_not_found")
        diff = f"diff --git a/{pull.head_ref} b/{pull.head_ref}\n"
        return PullRequestDetails(pull, [ChangedFile(pull.head_ref, "modified", 1, 0)], diff)

    async def find_open_pull_request(
        self, token: str, full_name: str, head_branch: str
    ) -> HostedPullRequest | None:
        repo = self._repo(token, full_name)
        return next(
            (
                p
                for (name, _), p in sorted(self.pulls.items())
                if name == repo.full_name and p.head_ref == head_branch and p.state is PullRequestState.OPEN
            ),
            None,
        )

    async def open_pull_request(
        self, token: str, full_name: str, *, head: str, base: str, title: str, body: str, draft: bool = False
    ) -> HostedPullRequest:
        repo = self._repo(token, full_name, Permission.WRITE)
        if head not in repo.branches or base not in repo.branches:
            raise Refused("Validation Failed.", code="code_host_rejected")
        number = 1 + max((n for (name, n) in self.pulls if name == repo.full_name), default=0)
        pull = HostedPullRequest(
            number=number,
            title=title,
            body=body,
            state=PullRequestState.OPEN,
            author_login=None,
            head_ref=head,
            head_sha=repo.branches[head],
            base_ref=base,
            html_url=f"https://github.com/{repo.full_name}/pull/{number}",
            draft=draft,
            created_at=self._now,
            updated_at=self._now,
        )
        self.pulls[(repo.full_name, number)] = pull
        return pull

    def close(self, full_name: str, number: int) -> None:
        key = (self.repositories[full_name.lower()].full_name, number)
        self.pulls[key] = replace(self.pulls[key], state=PullRequestState.CLOSED)

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
        repo = self._repo(token, full_name)
        if (repo.full_name, number) not in self.pulls:
            raise NotFound("No such pull request.", code="code_host_not_found")
        review_id = self._id()
        self.reviews.append(StoredReview(review_id, repo.full_name, number, body, event, list(comments)))
        state = {"APPROVE": "approved", "REQUEST_CHANGES": "changes_requested"}.get(event, "commented")
        return PostedReview(review_id, state, self._now)

    async def post_issue_comment(self, token: str, full_name: str, number: int, body: str) -> PostedComment:
        repo = self._repo(token, full_name)
        if (repo.full_name, number) not in self.pulls:
            raise NotFound("No such pull request.", code="code_host_not_found")
        self.comments.append((repo.full_name, number, body))
        return PostedComment(self._id(), self._now)
