"""Cross-cutting ports: time, identifiers and the unit of work."""

from __future__ import annotations

from datetime import datetime
from types import TracebackType
from typing import Protocol, Self
from uuid import UUID

from asynccoder.application.ai_catalogue.ports import (
    ApiKeyRepository,
    ModelCatalogueRepository,
    ModelUsageRepository,
)
from asynccoder.application.common.billing_repositories import (
    BillingCatalogRepository,
    CreditLedgerRepository,
    ProcessedEventRepository,
    SubscriptionRepository,
)
from asynccoder.application.github.ports import (
    GitHubDeliveryRepository,
    PullRequestRepository,
    RepositoryEventRepository,
    RepositoryRepository,
)
from asynccoder.application.ports.events import TaskEventRepository
from asynccoder.application.ports.tasks import TaskRepository, TaskUsageRepository
from asynccoder.application.users.ports import (
    GitHubConnectionRepository,
    OAuthStateRepository,
    PersonalAccessTokenRepository,
    RefreshTokenRepository,
    UserRepository,
)


class Clock(Protocol):
    """The current time, always timezone-aware UTC."""

    def now(self) -> datetime: ...


class IdGenerator(Protocol):
    """New unique identifiers: UUIDv7, so they sort by creation time."""

    def new_id(self) -> UUID: ...


class UnitOfWork(Protocol):
    """One business transaction: repositories as attributes; rolls back on exit unless ``commit()`` ran.

    ``async with uow: ...; await uow.commit()``. A unit of work may be entered again after it exited (each
    block is its own transaction, so no transaction stays open across slow calls such as GitHub or a model),
    but never while it is active: blocks are sequential, not nested.
    """

    users: UserRepository
    github_connections: GitHubConnectionRepository
    refresh_tokens: RefreshTokenRepository
    personal_access_tokens: PersonalAccessTokenRepository
    oauth_states: OAuthStateRepository
    ai_catalogue: ModelCatalogueRepository
    api_keys: ApiKeyRepository
    model_usage: ModelUsageRepository
    credits: CreditLedgerRepository
    billing_catalog: BillingCatalogRepository
    subscriptions: SubscriptionRepository
    stripe_events: ProcessedEventRepository
    repositories: RepositoryRepository
    pull_requests: PullRequestRepository
    github_deliveries: GitHubDeliveryRepository
    repository_events: RepositoryEventRepository
    tasks: TaskRepository
    task_usage: TaskUsageRepository
    task_events: TaskEventRepository

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    async def commit(self) -> None: ...
