"""Wire structs shared by the code hosting routes."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import msgspec

from asynccoder.domain.code_hosting import (
    PullRequest,
)
from asynccoder.entrypoints.http.common import wire


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
    return wire(PullRequestOut, pr, state=pr.state.value)
