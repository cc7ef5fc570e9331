"""The GitHub REST API through PyGithub (github.com or GitHub Enterprise)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

import anyio.to_thread
import requests
from github import Auth, Github, GithubException
from github.GithubException import BadCredentialsException, RateLimitExceededException, UnknownObjectException
from github.PullRequest import PullRequest as GhPullRequest
from github.Repository import Repository as GhRepository

from asynccoder.application.ports.code_hosting import (
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

T = TypeVar("T")
DIFF_MEDIA_TYPE = "application/vnd.github.diff"


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _retry_after(headers: dict[str, Any] | None, now: float) -> int:
    lowered = {str(k).lower(): str(v) for k, v in (headers or {}).items()}
    if "retry-after" in lowered:
        try:
            return max(1, math.ceil(float(lowered["retry-after"])))
        except ValueError:
            pass
    if "x-ratelimit-reset" in lowered:
        try:
            return max(1, math.ceil(float(lowered["x-ratelimit-reset"]) - now))
        except ValueError:
            pass
    return 60


def translate(exc: Exception) -> Exception:
    """A domain error for a PyGithub or transport failure; never carries the token or response bodies."""
    if isinstance(exc, RateLimitExceededException) or (
        isinstance(exc, GithubException)
        and exc.status in {403, 429}
        and str((exc.headers or {}).get("x-ratelimit-remaining", "")) == "0"
    ):
        headers = exc.headers if isinstance(exc, GithubException) else None
        return TooManyRequests(
            "GitHub's rate limit is exhausted; try again later.",
            retry_after=_retry_after(headers, time.time()),
            code="code_host_rate_limited",
        )
    if isinstance(exc, BadCredentialsException) or (isinstance(exc, GithubException) and exc.status == 401):
        return Refused(
            "GitHub rejected the stored credentials; reconnect your GitHub account.",
            code="code_host_reauthorization_required",
        )
    if isinstance(exc, UnknownObjectException) or (isinstance(exc, GithubException) and exc.status == 404):
        return NotFound(
            "GitHub has no such object, or your account cannot see it.", code="code_host_not_found"
        )
    if isinstance(exc, GithubException) and exc.status == 429:
        return TooManyRequests(
            "GitHub asked us to slow down.",
            retry_after=_retry_after(exc.headers, time.time()),
            code="code_host_rate_limited",
        )
    if isinstance(exc, GithubException) and exc.status == 403:
        return Refused("GitHub refused this operation for your account.", code="code_host_forbidden")
    if isinstance(exc, GithubException) and exc.status == 422:
        return Refused("GitHub rejected the request as invalid.", code="code_host_rejected")
    return Unavailable("GitHub could not be reached.", code="code_host_unavailable")


# ``GET /repos/{owner}/{repo}/collaborators/{username}/permission``: ``permission`` is admin, write, read or
# none (maintain is reported as write and triage as read).
_COLLABORATOR_LEVELS = {
    "admin": Permission.ADMIN,
    "maintain": Permission.WRITE,
    "write": Permission.WRITE,
    "triage": Permission.READ,
    "read": Permission.READ,
}


def _hook_exists(exc: GithubException) -> bool:
    """GitHub's 422 for a second hook with the same URL: ``errors: [{"resource": "Hook", "code": "custom",
    "message": "Hook already exists on this repository"}]``."""
    data = exc.data if isinstance(exc.data, dict) else {}
    errors = data.get("errors")
    return exc.status == 422 and any(
        isinstance(e, dict) and "already exists" in str(e.get("message", "")) for e in errors or []
    )


def _permission(permissions: Any) -> Permission:
    if permissions is not None:
        if getattr(permissions, "admin", False):
            return Permission.ADMIN
        if getattr(permissions, "push", False) or getattr(permissions, "maintain", False):
            return Permission.WRITE
    return Permission.READ


def _visibility(repo: GhRepository) -> Visibility:
    raw = repo.raw_data.get("visibility") if isinstance(repo.raw_data, dict) else None
    if raw in {"public", "private", "internal"}:
        return Visibility(raw)
    return Visibility.PRIVATE if repo.private else Visibility.PUBLIC


def _hosted_repository(repo: GhRepository) -> HostedRepository:
    return HostedRepository(
        host_id=repo.id,
        full_name=repo.full_name,
        default_branch=repo.default_branch or "main",
        visibility=_visibility(repo),
        permission=_permission(repo.permissions),
        html_url=repo.html_url,
        clone_url=repo.clone_url,
    )


def _hosted_pull(pr: GhPullRequest) -> HostedPullRequest:
    if pr.state == "open":
        state = PullRequestState.OPEN
    elif pr.merged_at is not None or pr.raw_data.get("merged"):
        state = PullRequestState.MERGED
    else:
        state = PullRequestState.CLOSED
    return HostedPullRequest(
        number=pr.number,
        title=pr.title or "",
        body=pr.body,
        state=state,
        author_login=pr.user.login if pr.user is not None else None,
        head_ref=pr.head.ref,
        head_sha=pr.head.sha,
        base_ref=pr.base.ref,
        html_url=pr.html_url,
        draft=bool(pr.draft),
        created_at=_aware(pr.created_at),
        updated_at=_aware(pr.updated_at),
        merged_at=_aware(pr.merged_at),
        closed_at=_aware(pr.closed_at),
    )


def _review_comment(comment: InlineComment) -> dict[str, Any]:
    draft: dict[str, Any] = {
        "path": comment.path,
        "line": comment.line,
        "side": comment.side,
        "body": comment.body,
    }
    if comment.start_line is not None and comment.start_line < comment.line:
        draft["start_line"] = comment.start_line
        draft["start_side"] = comment.side
    return draft


def _names_a_review_thread(data: Any) -> bool:
    """GitHub's 422 for a bad inline comment lists texts such as "Pull request review thread line must be
    part of the diff" (without saying which comment)."""
    errors = data.get("errors") if isinstance(data, dict) else None
    texts = [e if isinstance(e, str) else str(e.get("message", "")) for e in errors or [] if e]
    return any("review thread" in t.lower() or "pull_request_review_thread" in t.lower() for t in texts)


class PyGithubCodeHost(CodeHost):
    """GitHub through PyGithub: one short-lived client per call (per user token), run in a worker thread.

    No automatic retries (a rate limit is reported to the caller with its reset time instead of sleeping in
    a thread); ``base_url`` points at GitHub Enterprise (``https://HOST/api/v3``) when configured.
    """

    name = "github"
    requires_token = True
    supports_webhooks = True

    def __init__(self, base_url: str = "https://api.github.com", *, timeout: int = 15) -> None:
        self._base_url = base_url.rstrip("/")
        self._timeout = timeout

    @contextmanager
    def _client(self, token: str, per_page: int = 30, *, lazy: bool = False) -> Iterator[Github]:
        client = Github(
            auth=Auth.Token(token),
            base_url=self._base_url,
            timeout=self._timeout,
            per_page=per_page,
            retry=None,
            seconds_between_requests=None,
            seconds_between_writes=None,
            user_agent="asynccoder",
            lazy=lazy,
        )
        try:
            yield client
        finally:
            client.close()

    async def _run(self, fn: Callable[[], T]) -> T:
        def guarded() -> T:
            try:
                return fn()
            except (GithubException, requests.RequestException) as exc:
                raise translate(exc) from None

        return await anyio.to_thread.run_sync(guarded)

    async def list_repositories(self, token: str, *, page: int, per_page: int) -> RepositoryPage:
        def call() -> RepositoryPage:
            with self._client(token, per_page) as gh:
                repos = gh.get_user().get_repos(sort="updated").get_page(page - 1)
                items = [_hosted_repository(r) for r in repos]
                return RepositoryPage(items, page + 1 if len(items) >= per_page else None)

        return await self._run(call)

    async def get_repository(self, token: str, full_name: str) -> HostedRepository:
        def call() -> HostedRepository:
            with self._client(token) as gh:
                return _hosted_repository(gh.get_repo(full_name))

        return await self._run(call)

    async def register_webhook(self, token: str, full_name: str, hook: WebhookRegistration) -> int | None:
        def call() -> int | None:
            config = {"url": hook.url, "content_type": "json", "secret": hook.secret, "insecure_ssl": "0"}
            with self._client(token, per_page=100, lazy=True) as gh:
                repo = gh.get_repo(full_name)
                try:
                    created = repo.create_hook("web", config, events=list(hook.events), active=True)
                    return int(created.id)
                except GithubException as exc:
                    if not _hook_exists(exc):
                        raise
                    # A hook the platform forgot (its secret is lost) still points here: take it over.
                    for existing in repo.get_hooks():
                        if existing.config.get("url") == hook.url:
                            existing.edit("web", config, events=list(hook.events), active=True)
                            return int(existing.id)
                    raise

        return await self._run(call)

    async def remove_webhook(self, token: str, full_name: str, hook_id: int) -> None:
        def call() -> None:
            with self._client(token, lazy=True) as gh:
                gh.get_repo(full_name).get_hook(hook_id).delete()

        await self._run(call)

    async def collaborator_permission(self, token: str, full_name: str, login: str) -> Permission | None:
        def call() -> Permission | None:
            with self._client(token, lazy=True) as gh:
                level = gh.get_repo(full_name).get_collaborator_permission(login)
                return _COLLABORATOR_LEVELS.get(level)

        return await self._run(call)

    async def read_pull_request(self, token: str, full_name: str, number: int) -> PullRequestDetails:
        def call() -> PullRequestDetails:
            with self._client(token, per_page=100, lazy=True) as gh:
                pr = gh.get_repo(full_name).get_pull(number)
                files = [
                    ChangedFile(
                        filename=f.filename,
                        status=f.status,
                        additions=f.additions,
                        deletions=f.deletions,
                        patch=f.patch,
                        previous_filename=f.previous_filename,
                    )
                    for f in pr.get_files()
                ]
                _, data = gh.requester.requestJsonAndCheck("GET", pr.url, headers={"Accept": DIFF_MEDIA_TYPE})
                diff = data.get("data", "") if isinstance(data, dict) else ""
                return PullRequestDetails(_hosted_pull(pr), files, str(diff))

        return await self._run(call)

    async def find_open_pull_request(
        self, token: str, full_name: str, head_branch: str
    ) -> HostedPullRequest | None:
        def call() -> HostedPullRequest | None:
            with self._client(token, lazy=True) as gh:
                owner = full_name.split("/", 1)[0]
                pulls = gh.get_repo(full_name).get_pulls(state="open", head=f"{owner}:{head_branch}")
                for pr in pulls.get_page(0):
                    return _hosted_pull(pr)
                return None

        return await self._run(call)

    async def open_pull_request(
        self, token: str, full_name: str, *, head: str, base: str, title: str, body: str, draft: bool = False
    ) -> HostedPullRequest:
        def call() -> HostedPullRequest:
            with self._client(token, lazy=True) as gh:
                pr = gh.get_repo(full_name).create_pull(
                    base=base, head=head, title=title, body=body, draft=draft
                )
                return _hosted_pull(pr)

        return await self._run(call)

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
        def call() -> PostedReview:
            with self._client(token, lazy=True) as gh:
                pr = gh.get_repo(full_name).get_pull(number)
                drafts: list[Any] = [_review_comment(c) for c in comments]
                # GitHub reviews the pull request's current head; ``commit_sha`` is recorded by the caller.
                try:
                    review = pr.create_review(body=body, event=event, comments=drafts)
                except GithubException as exc:
                    if exc.status == 422 and _names_a_review_thread(exc.data):
                        raise Refused(
                            "GitHub refused an inline comment of the review (a line outside its diff).",
                            code="review_comment_rejected",
                        ) from None
                    raise
                return PostedReview(
                    review.id, (review.state or "commented").lower(), _aware(review.submitted_at)
                )

        return await self._run(call)

    async def post_issue_comment(self, token: str, full_name: str, number: int, body: str) -> PostedComment:
        def call() -> PostedComment:
            with self._client(token, lazy=True) as gh:
                comment = gh.get_repo(full_name).get_issue(number).create_comment(body)
                return PostedComment(comment.id, _aware(comment.created_at))

        return await self._run(call)
