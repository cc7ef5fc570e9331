"""Pull requests of a connected repository over HTTP: list, show, open, review."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec
from dishka.integrations.litestar import FromDishka, inject
from litestar import Controller, get
from litestar.params import FromPath

from asynccoder.application.code_hosting.pull_requests import (
    GetPullRequest,
    GetPullRequestInput,
)
from asynccoder.domain.code_hosting import (
    PullRequestComment,
    PullRequestReview,
)
from asynccoder.domain.identity import Actor
from asynccoder.entrypoints.http.code_hosting.schemas import PullRequestOut, pull_request_out
from asynccoder.entrypoints.http.common import (
    problem_response,
    wire,
)


class ReviewOut(msgspec.Struct):
    id: UUID
    github_review_id: int | None
    author_login: str | None
    state: str
    body: str | None
    commit_sha: str | None
    submitted_at: datetime | None
    by_platform: bool


class CommentOut(msgspec.Struct):
    id: UUID
    kind: str
    github_comment_id: int | None
    author_login: str | None
    body: str
    path: str | None
    line: int | None
    side: Annotated[
        Literal["RIGHT", "LEFT"] | None,
        msgspec.Meta(
            description="Inline comments: RIGHT numbers `line` on the new version, LEFT on the old."
        ),
    ]
    start_line: Annotated[
        int | None, msgspec.Meta(description="First line of a comment spanning several lines.")
    ]
    deleted: bool
    by_platform: bool
    created_at: datetime
    updated_at: datetime


class PullRequestDetailOut(msgspec.Struct):
    pull_request: PullRequestOut
    reviews: list[ReviewOut]
    comments: list[CommentOut]


def _review_out(r: PullRequestReview) -> ReviewOut:
    return wire(ReviewOut, r, github_review_id=r.host_review_id)


def _comment_out(c: PullRequestComment) -> CommentOut:
    return wire(
        CommentOut,
        c,
        kind=c.kind.value,
        github_comment_id=c.host_comment_id,
        body="" if c.deleted else c.body,
        side="LEFT" if c.side == "LEFT" else "RIGHT" if c.side == "RIGHT" else None,
    )


class PullRequestController(Controller):
    path = "/pulls"
    tags = ["pull requests"]

    @get(
        "/{pull_request_id:uuid}",
        operation_id="pull_requests_get",
        summary="Get a pull request with its reviews and comments",
        responses={
            404: problem_response(
                "No such pull request, or no access to its repository (`pull_request_not_found`)"
            )
        },
    )
    @inject
    async def get_pull(
        self, actor: FromDishka[Actor], get_pull: FromDishka[GetPullRequest], pull_request_id: FromPath[UUID]
    ) -> PullRequestDetailOut:
        """404 unless the caller has access to the pull request's repository."""
        view = await get_pull(GetPullRequestInput(actor, pull_request_id))
        return PullRequestDetailOut(
            pull_request_out(view.pull_request),
            [_review_out(r) for r in view.reviews],
            [_comment_out(c) for c in view.comments],
        )
