"""Wire structs shared by the code hosting routes."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import msgspec

from asynccoder.domain.code_hosting import (
    PullRequest,
)


class PullRequestOut(msgspec.Struct):
    id: UUID
    repository_id: UUID
    number: int
    title: str
    body: str | None
    state: str
    draft: bool
    author_login: str | None
    head_ref: str
    head_sha: str | None
    base_ref: str
    html_url: str | None
    opened_by_platform: bool
    merged_at: datetime | None
    closed_at: datetime | None
    created_at: datetime
    updated_at: datetime


def pull_request_out(pr: PullRequest) -> PullRequestOut:
    return PullRequestOut(
        id=pr.id,
        repository_id=pr.repository_id,
        number=pr.number,
        title=pr.title,
        body=pr.body,
        state=pr.state.value,
        draft=pr.draft,
        author_login=pr.author_login,
        head_ref=pr.head_ref,
        head_sha=pr.head_sha,
        base_ref=pr.base_ref,
        html_url=pr.html_url,
        opened_by_platform=pr.opened_by_platform,
        merged_at=pr.merged_at,
        closed_at=pr.closed_at,
        created_at=pr.created_at,
        updated_at=pr.updated_at,
    )
