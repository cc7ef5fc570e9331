"""In-memory state of the code-hosting repositories (a field of ``MemoryState``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from asynccoder.domain.code_hosting import (
    PullRequest,
    PullRequestComment,
    PullRequestReview,
    Repository,
    RepositoryAccess,
    RepositoryEvent,
    RepositoryWebhook,
)


@dataclass
class CodeHostingState:
    """The part of ``MemoryState`` that holds code-hosting data."""

    repositories: dict[UUID, Repository] = field(default_factory=dict)
    access: dict[tuple[UUID, UUID], RepositoryAccess] = field(default_factory=dict)
    webhooks: dict[UUID, RepositoryWebhook] = field(default_factory=dict)  # by repository id
    pull_requests: dict[UUID, PullRequest] = field(default_factory=dict)
    reviews: dict[UUID, PullRequestReview] = field(default_factory=dict)
    comments: dict[UUID, PullRequestComment] = field(default_factory=dict)
    deliveries: dict[str, tuple[str, datetime]] = field(default_factory=dict)
    events: dict[UUID, RepositoryEvent] = field(default_factory=dict)
