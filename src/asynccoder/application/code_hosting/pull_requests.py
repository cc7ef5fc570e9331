"""Use cases for reading pull requests and for the platform's own pull-request actions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from asynccoder.application.code_hosting.repositories import (
    UserTokens,
    visible_repository,
)
from asynccoder.application.outbound_webhooks.outbox import publish_review_posted
from asynccoder.application.ports.code_hosting import (
    CodeHost,
    HostedPullRequest,
    InlineComment,
    PostedReview,
)
from asynccoder.application.ports.system import (
    Clock,
    IdGenerator,
)
from asynccoder.application.ports.uow import UnitOfWork
from asynccoder.application.shared import Page, check_limit, page_of
from asynccoder.domain.code_hosting import (
    CommentKind,
    Permission,
    PullRequest,
    PullRequestComment,
    PullRequestReview,
    PullRequestState,
    validate_branch_name,
)
from asynccoder.domain.errors import FieldProblem, Forbidden, InvalidInput, NotFound
from asynccoder.domain.identity import Actor


@dataclass(frozen=True, slots=True)
class ListPullRequestsInput:
    actor: Actor
    repository_id: UUID
    state: PullRequestState | None = None
    limit: int = 20
    cursor: UUID | None = None


class ListPullRequests:
    """Pull requests of a repository the caller has access to (404 otherwise), newest first."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, query: ListPullRequestsInput) -> Page[PullRequest]:
        limit = check_limit(query.limit)
        async with self._uow as uow:
            await visible_repository(uow, query.actor, query.repository_id)
            rows = await uow.pull_requests.list_for_repository(
                query.repository_id, state=query.state, limit=limit + 1, before=query.cursor
            )
        return page_of(rows, limit, lambda pr: pr.id)


@dataclass(frozen=True, slots=True)
class GetPullRequestInput:
    actor: Actor
    pull_request_id: UUID


@dataclass(frozen=True, slots=True)
class PullRequestView:
    pull_request: PullRequest
    reviews: list[PullRequestReview]
    comments: list[PullRequestComment]


class GetPullRequest:
    """One pull request with its reviews and comments; 404 unless the caller has access to its repository."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, query: GetPullRequestInput) -> PullRequestView:
        async with self._uow as uow:
            pull = await uow.pull_requests.get(query.pull_request_id)
            if (
                pull is None
                or await uow.repositories.get_access(query.actor.user_id, pull.repository_id) is None
            ):
                raise NotFound("No such pull request.", code="pull_request_not_found")
            reviews = await uow.pull_requests.list_reviews(pull.id)
            comments = await uow.pull_requests.list_comments(pull.id)
        return PullRequestView(pull, reviews, comments)


def pull_request_from_host(
    hosted: HostedPullRequest, *, pull_id: UUID, repository_id: UUID, now: datetime, by_platform: bool
) -> PullRequest:
    return PullRequest(
        id=pull_id,
        repository_id=repository_id,
        number=hosted.number,
        title=hosted.title,
        body=hosted.body,
        state=hosted.state,
        author_login=hosted.author_login,
        head_ref=hosted.head_ref,
        head_sha=hosted.head_sha,
        base_ref=hosted.base_ref,
        html_url=hosted.html_url,
        draft=hosted.draft,
        opened_by_platform=by_platform,
        merged_at=hosted.merged_at,
        closed_at=hosted.closed_at,
        source_updated_at=hosted.updated_at,
        created_at=hosted.created_at or now,
        updated_at=hosted.updated_at or now,
    )


@dataclass(frozen=True, slots=True)
class OpenPullRequestInput:
    actor: Actor
    repository_id: UUID
    head_branch: str
    title: str
    body: str
    base_branch: str | None = None
    draft: bool = False


class OpenPullRequest:
    """Open a pull request from ``head_branch`` as the caller, or reuse the open one for that branch.

    Rules: 404 without access; write access required (403 ``insufficient_repository_access``); the base
    defaults to the repository's default base branch; idempotent per head branch (an existing open pull
    request is returned, never a second one); the result is recorded in ``pull_requests``.
    """

    def __init__(
        self, uow: UnitOfWork, code_host: CodeHost, tokens: UserTokens, clock: Clock, ids: IdGenerator
    ) -> None:
        self._uow = uow
        self._host = code_host
        self._tokens = tokens
        self._clock = clock
        self._ids = ids

    async def __call__(self, command: OpenPullRequestInput) -> PullRequest:
        head = validate_branch_name(command.head_branch, field_name="head_branch")
        title = command.title.strip()
        if not title or len(title) > 256:
            raise InvalidInput(
                "The title is not valid.", problems=[FieldProblem("title", "1 to 256 characters")]
            )
        async with self._uow as uow:
            found = await visible_repository(uow, command.actor, command.repository_id)
        if not found.permission.allows(Permission.WRITE):
            raise Forbidden(
                "Opening a pull request needs write access.", code="insufficient_repository_access"
            )
        repository = found.repository
        base = validate_branch_name(command.base_branch or repository.base_branch, field_name="base_branch")
        token = await self._tokens.token_for(command.actor.user_id)
        hosted = await self._host.find_open_pull_request(token, repository.full_name, head)
        if hosted is None:
            hosted = await self._host.open_pull_request(
                token,
                repository.full_name,
                head=head,
                base=base,
                title=title,
                body=command.body,
                draft=command.draft,
            )
        async with self._uow as uow:
            stored = await uow.pull_requests.upsert(
                pull_request_from_host(
                    hosted,
                    pull_id=self._ids.new_id(),
                    repository_id=repository.id,
                    now=self._clock.now(),
                    by_platform=True,
                )
            )
            await uow.commit()
        return stored


@dataclass(frozen=True, slots=True)
class PostReviewInput:
    actor: Actor
    pull_request_id: UUID
    body: str
    event: str = "COMMENT"  # COMMENT, APPROVE, REQUEST_CHANGES
    comments: tuple[InlineComment, ...] = ()


class PostPullRequestReview:
    """Post a review (with inline comments) as the caller and record it with its comments.

    Rules: 404 unless the caller has access to the pull request's repository; ``event`` is one of COMMENT,
    APPROVE, REQUEST_CHANGES.
    """

    EVENTS = frozenset({"COMMENT", "APPROVE", "REQUEST_CHANGES"})

    def __init__(
        self, uow: UnitOfWork, code_host: CodeHost, tokens: UserTokens, clock: Clock, ids: IdGenerator
    ) -> None:
        self._uow = uow
        self._host = code_host
        self._tokens = tokens
        self._clock = clock
        self._ids = ids

    async def __call__(self, command: PostReviewInput) -> PullRequestReview:
        if command.event not in self.EVENTS:
            raise InvalidInput("Unknown review event.", problems=[FieldProblem("event", "is not allowed")])
        async with self._uow as uow:
            pull = await uow.pull_requests.get(command.pull_request_id)
            if pull is None:
                raise NotFound("No such pull request.", code="pull_request_not_found")
            found = await visible_repository(uow, command.actor, pull.repository_id)
        token = await self._tokens.token_for(command.actor.user_id)
        posted = await self._host.post_review(
            token,
            found.repository.full_name,
            pull.number,
            body=command.body,
            event=command.event,
            comments=list(command.comments),
            commit_sha=pull.head_sha,
        )
        async with self._uow as uow:
            review = await record_posted_review_in(
                uow,
                self._ids,
                pull,
                posted,
                body=command.body,
                commit_sha=pull.head_sha,
                comments=command.comments,
                now=self._clock.now(),
                user_id=command.actor.user_id,
            )
            await uow.commit()
        return review


async def record_posted_review_in(
    uow: UnitOfWork,
    ids: IdGenerator,
    pull: PullRequest,
    posted: PostedReview,
    *,
    body: str,
    commit_sha: str | None,
    comments: Sequence[InlineComment],
    now: datetime,
    user_id: UUID,
) -> PullRequestReview:
    """Records a review the platform posted (on behalf of ``user_id``), with its inline comments, in an open
    unit of work."""
    review = PullRequestReview(
        id=ids.new_id(),
        pull_request_id=pull.id,
        host_review_id=posted.host_review_id,
        author_login=None,
        state=posted.state,
        body=body,
        commit_sha=commit_sha,
        submitted_at=posted.submitted_at or now,
        created_at=now,
        updated_at=now,
        by_platform=True,
    )
    await uow.pull_requests.upsert_review(review)
    await publish_review_posted(uow, now, user_id, pull, review)  # the outbound webhook
    for inline in comments:
        await uow.pull_requests.upsert_comment(
            PullRequestComment(
                id=ids.new_id(),
                pull_request_id=pull.id,
                kind=CommentKind.REVIEW_COMMENT,
                host_comment_id=None,
                author_login=None,
                body=inline.body,
                path=inline.path,
                line=inline.line,
                side=inline.side,
                start_line=inline.start_line,
                review_id=posted.host_review_id,
                created_at=now,
                updated_at=now,
                by_platform=True,
            )
        )
    return review
