"""Tolerant shapes of GitHub webhook payloads: only the fields the platform reads, all optional.

GitHub sends ``null`` for many fields (a deleted user becomes ``null`` or "ghost", ``body`` may be ``null``,
``repository.pushed_at`` is an integer on ``push`` and a string elsewhere), so every field has a default and
timestamps are read by ``parse_timestamp``. Integers that end up in BIGINT columns are bounded so that a
hostile payload is a 400, never a database error. Unknown fields are ignored. ``webhooks.py`` turns them into
the port's typed events.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import msgspec

BigId = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]
SmallInt = Annotated[int, msgspec.Meta(ge=0, le=2**31 - 1)]
Timestamp = str | int | float | None


class Account(msgspec.Struct, kw_only=True):
    login: str | None = None
    id: BigId | None = None
    type: str | None = None  # User, Organization, Bot


class RepositoryRef(msgspec.Struct, kw_only=True):
    id: BigId | None = None
    full_name: str | None = None
    name: str | None = None
    owner: Account | None = None
    default_branch: str | None = None
    private: bool | None = None
    visibility: str | None = None
    pushed_at: Timestamp = None


class Envelope(msgspec.Struct, kw_only=True):
    """What is read before the signature is checked: which repository the delivery claims to be about."""

    action: str | None = None
    repository: RepositoryRef | None = None
    repositories_removed: list[RepositoryRef] | None = None


class BranchRef(msgspec.Struct, kw_only=True):
    ref: str | None = None
    sha: str | None = None


class PullRequestPayload(msgspec.Struct, kw_only=True):
    id: BigId | None = None
    number: BigId | None = None
    title: str | None = None
    body: str | None = None
    state: str | None = None
    draft: bool | None = None
    merged: bool | None = None
    user: Account | None = None
    head: BranchRef | None = None
    base: BranchRef | None = None
    html_url: str | None = None
    created_at: Timestamp = None
    updated_at: Timestamp = None
    closed_at: Timestamp = None
    merged_at: Timestamp = None


class ReviewPayload(msgspec.Struct, kw_only=True):
    id: BigId | None = None
    user: Account | None = None
    body: str | None = None
    state: str | None = None
    commit_id: str | None = None
    submitted_at: Timestamp = None


class CommentPayload(msgspec.Struct, kw_only=True):
    id: BigId | None = None
    user: Account | None = None
    body: str | None = None
    path: str | None = None
    line: SmallInt | None = None
    original_line: SmallInt | None = None
    start_line: SmallInt | None = None
    original_start_line: SmallInt | None = None
    side: str | None = None
    pull_request_review_id: BigId | None = None
    created_at: Timestamp = None
    updated_at: Timestamp = None


class IssuePullRequestLink(msgspec.Struct, kw_only=True):
    url: str | None = None
    html_url: str | None = None


class IssuePayload(msgspec.Struct, kw_only=True):
    number: BigId | None = None
    title: str | None = None
    state: str | None = None
    user: Account | None = None
    pull_request: IssuePullRequestLink | None = None
    html_url: str | None = None


class PullRequestEvent(msgspec.Struct, kw_only=True):
    action: str | None = None
    number: BigId | None = None
    pull_request: PullRequestPayload | None = None
    repository: RepositoryRef | None = None
    sender: Account | None = None


class PullRequestReviewEvent(msgspec.Struct, kw_only=True):
    action: str | None = None
    review: ReviewPayload | None = None
    pull_request: PullRequestPayload | None = None
    repository: RepositoryRef | None = None


class PullRequestReviewCommentEvent(msgspec.Struct, kw_only=True):
    action: str | None = None
    comment: CommentPayload | None = None
    pull_request: PullRequestPayload | None = None
    repository: RepositoryRef | None = None


class IssueCommentEvent(msgspec.Struct, kw_only=True):
    action: str | None = None
    issue: IssuePayload | None = None
    comment: CommentPayload | None = None
    repository: RepositoryRef | None = None


class HeadCommit(msgspec.Struct, kw_only=True):
    id: str | None = None
    timestamp: Timestamp = None


class PushEvent(msgspec.Struct, kw_only=True):
    ref: str | None = None
    before: str | None = None
    after: str | None = None
    deleted: bool | None = None
    head_commit: HeadCommit | None = None
    repository: RepositoryRef | None = None


class RepositoryEventPayload(msgspec.Struct, kw_only=True):
    action: str | None = None
    repository: RepositoryRef | None = None


class PermissionChange(msgspec.Struct, kw_only=True, rename={"from_": "from"}):
    from_: str | None = None
    to: str | None = None


class MemberChanges(msgspec.Struct, kw_only=True):
    permission: PermissionChange | None = None
    old_permission: PermissionChange | None = None


class MemberEvent(msgspec.Struct, kw_only=True):
    action: str | None = None
    member: Account | None = None
    changes: MemberChanges | None = None
    repository: RepositoryRef | None = None


def parse_timestamp(value: Timestamp) -> datetime | None:
    """An aware UTC datetime from GitHub's ISO 8601 strings or epoch seconds; ``None`` if unreadable."""
    try:
        if value is None or isinstance(value, bool):
            return None
        if isinstance(value, int | float):
            return datetime.fromtimestamp(value, UTC)
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError, OSError, TypeError):
        return None
