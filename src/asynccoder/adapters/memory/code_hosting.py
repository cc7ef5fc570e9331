"""In-memory repositories for connected repositories, pull requests, webhook deliveries and the outbox."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from uuid import UUID

from asynccoder.adapters.memory.code_hosting_state import CodeHostingState
from asynccoder.adapters.memory.store import InMemoryStore
from asynccoder.application.github.ports import (
    AccessibleRepository,
    GitHubDeliveryRepository,
    PullRequestRepository,
    RepositoryEventRepository,
    RepositoryRepository,
)
from asynccoder.domain.code_hosting import (
    PullRequest,
    PullRequestComment,
    PullRequestReview,
    PullRequestState,
    Repository,
    RepositoryAccess,
    RepositoryEvent,
    RepositoryWebhook,
    newer_or_unknown,
)
from asynccoder.domain.errors import Conflict


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


class InMemoryRepositoryEventRepository(_Base, RepositoryEventRepository):
    async def add(self, event: RepositoryEvent) -> None:
        self._s.events[event.id] = event

    async def list_pending(self, *, limit: int) -> list[RepositoryEvent]:
        pending = sorted((e for e in self._s.events.values() if e.processed_at is None), key=lambda e: e.id)
        return pending[:limit]

    async def mark_processed(self, event_id: UUID, processed_at: datetime) -> bool:
        event = self._s.events.get(event_id)
        if event is None or event.processed_at is not None:
            return False
        self._s.events[event_id] = dataclasses.replace(event, processed_at=processed_at)
        return True
