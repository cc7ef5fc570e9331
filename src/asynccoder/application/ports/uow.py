"""The unit of work: one business transaction over every repository port."""

from __future__ import annotations

from types import TracebackType
from typing import Protocol, Self

from asynccoder.application.ports.ai import (
    ApiKeyRepository,
    ModelCatalogueRepository,
    ModelUsageRepository,
)
from asynccoder.application.ports.billing import (
    BillingCatalogueRepository,
    CreditLedgerRepository,
    ProcessedEventRepository,
    SubscriptionRepository,
)
from asynccoder.application.ports.code_hosting import (
    GitHubConnectionRepository,
    GitHubDeliveryRepository,
    PullRequestRepository,
    RepositoryEventRepository,
    RepositoryRepository,
)
from asynccoder.application.ports.events import TaskEventRepository
from asynccoder.application.ports.identity import (
    OAuthStateRepository,
    PersonalAccessTokenRepository,
    RefreshTokenRepository,
    UserRepository,
)
from asynccoder.application.ports.outbound_webhooks import WebhookEndpointRepository, WebhookOutboxRepository
from asynccoder.application.ports.tasks import TaskRepository, TaskUsageRepository


class UnitOfWork(Protocol):
    """One business transaction: repositories as attributes; rolls back on exit unless ``commit()`` ran.

    ``async with uow: ...; await uow.commit()``. A unit of work may be entered again after it exited (each
    block is its own transaction, so no transaction stays open across slow calls such as GitHub or a model),
    but never while it is active: blocks are sequential, not nested.

    ``async with uow.read_only(): ...`` is a block that only reads: it opens no write transaction (no
    SQLite write lock, no ``BEGIN``/``ROLLBACK`` on PostgreSQL) and ``commit()`` inside it is an error. A
    read-only block leaves its connection to the next block of the same unit of work (authentication and the
    handler of one request share one connection); ``release()`` and the end of the unit of work's scope give
    it back, and a write block always starts on a connection of its own and returns it on exit.
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
    billing_catalogue: BillingCatalogueRepository
    subscriptions: SubscriptionRepository
    stripe_events: ProcessedEventRepository
    repositories: RepositoryRepository
    pull_requests: PullRequestRepository
    github_deliveries: GitHubDeliveryRepository
    repository_events: RepositoryEventRepository
    tasks: TaskRepository
    task_usage: TaskUsageRepository
    task_events: TaskEventRepository
    webhook_endpoints: WebhookEndpointRepository
    webhook_outbox: WebhookOutboxRepository

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    async def commit(self) -> None: ...

    def read_only(self) -> Self:
        """Make the next block read-only (returns ``self``: ``async with uow.read_only() as uow``)."""
        ...

    async def release(self) -> None:
        """Give back a connection a read-only block left behind (idempotent; never inside a block)."""
        ...
