"""An in-memory code host: repositories, per-token permissions, webhooks, pull requests, reviews, comments.

Behaves like GitHub for the platform's purposes (an unknown token is refused, an invisible repository is
``NotFound``, writes need the right permission, numbers are per repository), so use cases can be driven
without a network. Tests arrange it with ``add_repository``/``add_token``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from asynccoder.application.github.ports import (
    ChangedFile,
    CodeHost,
    HostedPullRequest,
    HostedRepository,
    InlineComment,
    PostedComment,
    PostedReview,
    PullRequestDetails,
    RepositoryPage,
    WebhookRegistration,
)
from asynccoder.domain.code_hosting import Permission, PullRequestState, Visibility
from asynccoder.domain.errors import NotFound, Refused, TooManyRequests, Unavailable


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
        repo = self.repositories.get(full_name.lower())
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
        hook_id = self._id()
        self.hooks[hook_id] = StoredHook(hook_id, repo.full_name, hook)
        return hook_id

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
