"""In-memory unit of work."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from asynccoder.adapters.memory.ai import (
    InMemoryApiKeyRepository,
    InMemoryModelCatalogueRepository,
    InMemoryModelUsageRepository,
)
from asynccoder.adapters.memory.billing import (
    InMemoryBillingCatalogueRepository,
    InMemoryCreditLedgerRepository,
    InMemoryProcessedEventRepository,
    InMemorySubscriptionRepository,
)
from asynccoder.adapters.memory.code_hosting import (
    InMemoryGitHubConnectionRepository,
    InMemoryGitHubDeliveryRepository,
    InMemoryPullRequestRepository,
    InMemoryRepositoryEventRepository,
    InMemoryRepositoryRepository,
)
from asynccoder.adapters.memory.identity import (
    InMemoryOAuthStateRepository,
    InMemoryPersonalAccessTokenRepository,
    InMemoryRefreshTokenRepository,
    InMemoryUserRepository,
)
from asynccoder.adapters.memory.store import InMemoryStore, MemoryState
from asynccoder.adapters.memory.tasks import (
    InMemoryTaskEventRepository,
    InMemoryTaskRepository,
    InMemoryTaskUsageRepository,
)
from asynccoder.adapters.memory.webhook_endpoints import (
    InMemoryWebhookEndpointRepository,
    InMemoryWebhookOutboxRepository,
)
from asynccoder.application.ports.uow import UnitOfWork


class InMemoryUnitOfWork(UnitOfWork):
    """Holds the store's lock for the whole block (serializable).

    On exit the state returns to the last commit (or to the state on entry), exactly as an uncommitted
    database transaction would. A read-only block takes no snapshot (there is nothing to roll back) and
    refuses ``commit()``.
    """

    users: InMemoryUserRepository
    github_connections: InMemoryGitHubConnectionRepository
    refresh_tokens: InMemoryRefreshTokenRepository
    personal_access_tokens: InMemoryPersonalAccessTokenRepository
    oauth_states: InMemoryOAuthStateRepository
    ai_catalogue: InMemoryModelCatalogueRepository
    api_keys: InMemoryApiKeyRepository
    model_usage: InMemoryModelUsageRepository
    credits: InMemoryCreditLedgerRepository
    billing_catalogue: InMemoryBillingCatalogueRepository
    subscriptions: InMemorySubscriptionRepository
    stripe_events: InMemoryProcessedEventRepository
    repositories: InMemoryRepositoryRepository
    pull_requests: InMemoryPullRequestRepository
    github_deliveries: InMemoryGitHubDeliveryRepository
    repository_events: InMemoryRepositoryEventRepository
    tasks: InMemoryTaskRepository
    task_usage: InMemoryTaskUsageRepository
    task_events: InMemoryTaskEventRepository
    webhook_endpoints: InMemoryWebhookEndpointRepository
    webhook_outbox: InMemoryWebhookOutboxRepository

    def __init__(self, store: InMemoryStore) -> None:
        self._store = store
        self._snapshot: MemoryState | None = None
        self._active = False
        self._read_only = False
        self._read_only_next = False

    def read_only(self) -> Self:
        if self._active:
            raise RuntimeError("a unit of work cannot be entered twice")
        self._read_only_next = True
        return self

    async def release(self) -> None:
        if self._active:
            raise RuntimeError("a unit of work cannot release its connection inside a block")

    async def __aenter__(self) -> Self:
        if self._active:
            raise RuntimeError("a unit of work cannot be entered twice")
        await self._store.lock.acquire()
        self._active = True
        self._read_only, self._read_only_next = self._read_only_next, False
        self._snapshot = None if self._read_only else self._store.snapshot()
        self.users = InMemoryUserRepository(self._store)
        self.github_connections = InMemoryGitHubConnectionRepository(self._store)
        self.refresh_tokens = InMemoryRefreshTokenRepository(self._store)
        self.personal_access_tokens = InMemoryPersonalAccessTokenRepository(self._store)
        self.oauth_states = InMemoryOAuthStateRepository(self._store)
        self.ai_catalogue = InMemoryModelCatalogueRepository(self._store)
        self.api_keys = InMemoryApiKeyRepository(self._store)
        self.model_usage = InMemoryModelUsageRepository(self._store)
        self.credits = InMemoryCreditLedgerRepository(self._store)
        self.billing_catalogue = InMemoryBillingCatalogueRepository(self._store)
        self.subscriptions = InMemorySubscriptionRepository(self._store)
        self.stripe_events = InMemoryProcessedEventRepository(self._store)
        self.repositories = InMemoryRepositoryRepository(self._store)
        self.pull_requests = InMemoryPullRequestRepository(self._store)
        self.github_deliveries = InMemoryGitHubDeliveryRepository(self._store)
        self.repository_events = InMemoryRepositoryEventRepository(self._store)
        self.tasks = InMemoryTaskRepository(self._store)
        self.task_usage = InMemoryTaskUsageRepository(self._store)
        self.task_events = InMemoryTaskEventRepository(self._store)
        self.webhook_endpoints = InMemoryWebhookEndpointRepository(self._store)
        self.webhook_outbox = InMemoryWebhookOutboxRepository(self._store)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if self._snapshot is not None:
                self._store.restore(self._snapshot)
        finally:
            self._snapshot = None
            self._active = False
            self._store.lock.release()

    async def commit(self) -> None:
        if not self._active:
            raise RuntimeError("the unit of work is not active")
        if self._read_only:
            raise RuntimeError("a read-only block cannot commit")
        self._snapshot = self._store.snapshot()
