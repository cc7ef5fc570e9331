"""SQLAlchemy unit of work: one connection, one transaction."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from asynccoder.adapters.sqlalchemy.ai import (
    SqlAlchemyApiKeyRepository,
    SqlAlchemyModelCatalogueRepository,
    SqlAlchemyModelUsageRepository,
)
from asynccoder.adapters.sqlalchemy.billing import (
    SqlAlchemyBillingCatalogueRepository,
    SqlAlchemyCreditLedgerRepository,
    SqlAlchemyProcessedEventRepository,
    SqlAlchemySubscriptionRepository,
)
from asynccoder.adapters.sqlalchemy.code_hosting import (
    SqlAlchemyGitHubConnectionRepository,
    SqlAlchemyGitHubDeliveryRepository,
    SqlAlchemyPullRequestRepository,
    SqlAlchemyRepositoryEventRepository,
    SqlAlchemyRepositoryRepository,
)
from asynccoder.adapters.sqlalchemy.database import READ_ONLY_OPTION
from asynccoder.adapters.sqlalchemy.identity import (
    SqlAlchemyOAuthStateRepository,
    SqlAlchemyPersonalAccessTokenRepository,
    SqlAlchemyRefreshTokenRepository,
    SqlAlchemyUserRepository,
)
from asynccoder.adapters.sqlalchemy.tasks import (
    SqlAlchemyTaskEventRepository,
    SqlAlchemyTaskRepository,
    SqlAlchemyTaskUsageRepository,
)
from asynccoder.adapters.sqlalchemy.webhook_endpoints import (
    SqlAlchemyWebhookEndpointRepository,
    SqlAlchemyWebhookOutboxRepository,
)
from asynccoder.application.ports.uow import UnitOfWork
from asynccoder.domain.errors import Unavailable


class SqlAlchemyUnitOfWork(UnitOfWork):
    """A write block opens a connection and a transaction on enter; commits only on ``commit()``, else rolls
    back, and returns the connection on exit.

    A read-only block opens no write transaction: on PostgreSQL the connection runs in autocommit (no
    ``BEGIN``/``ROLLBACK`` round trips; every statement already sees its own snapshot under READ COMMITTED),
    on SQLite it starts with a deferred ``BEGIN`` (a consistent snapshot without the write lock that
    ``BEGIN IMMEDIATE`` takes). Its connection is kept for the next read-only block (the caller lookup and
    the handler of one request then share one checkout) until ``release()`` or the end of the scope.
    """

    users: SqlAlchemyUserRepository
    github_connections: SqlAlchemyGitHubConnectionRepository
    refresh_tokens: SqlAlchemyRefreshTokenRepository
    personal_access_tokens: SqlAlchemyPersonalAccessTokenRepository
    oauth_states: SqlAlchemyOAuthStateRepository
    ai_catalogue: SqlAlchemyModelCatalogueRepository
    api_keys: SqlAlchemyApiKeyRepository
    model_usage: SqlAlchemyModelUsageRepository
    credits: SqlAlchemyCreditLedgerRepository
    billing_catalogue: SqlAlchemyBillingCatalogueRepository
    subscriptions: SqlAlchemySubscriptionRepository
    stripe_events: SqlAlchemyProcessedEventRepository
    repositories: SqlAlchemyRepositoryRepository
    pull_requests: SqlAlchemyPullRequestRepository
    github_deliveries: SqlAlchemyGitHubDeliveryRepository
    repository_events: SqlAlchemyRepositoryEventRepository
    tasks: SqlAlchemyTaskRepository
    task_usage: SqlAlchemyTaskUsageRepository
    task_events: SqlAlchemyTaskEventRepository
    webhook_endpoints: SqlAlchemyWebhookEndpointRepository
    webhook_outbox: SqlAlchemyWebhookOutboxRepository

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._read_options: dict[str, object] = (
            {READ_ONLY_OPTION: True}
            if engine.dialect.name == "sqlite"
            else {"isolation_level": "AUTOCOMMIT", READ_ONLY_OPTION: True}
        )
        self._conn: AsyncConnection | None = None
        self._kept: AsyncConnection | None = None
        self._bound: AsyncConnection | None = None
        self._committed = False
        self._read_only = False
        self._read_only_next = False

    @property
    def connection(self) -> AsyncConnection:
        if self._conn is None:
            raise RuntimeError("the unit of work is not active")
        return self._conn

    def read_only(self) -> Self:
        if self._conn is not None:
            raise RuntimeError("a unit of work cannot be entered twice")
        self._read_only_next = True
        return self

    async def __aenter__(self) -> Self:
        if self._conn is not None:
            raise RuntimeError("a unit of work cannot be entered twice")
        read_only, self._read_only_next = self._read_only_next, False
        if read_only and self._kept is not None:
            conn, self._kept = self._kept, None
        else:
            await self.release()
            conn = await self._checkout()
        try:
            if read_only and conn is not self._bound:
                await conn.execution_options(**self._read_options)
            await conn.begin()
        except BaseException:
            await conn.close()
            raise
        self._conn = conn
        self._committed = False
        self._read_only = read_only
        if conn is not self._bound:
            self._bind(conn)
        return self

    async def _checkout(self) -> AsyncConnection:
        try:
            return await self._engine.connect()
        except sa_exc.TimeoutError:
            # Every pooled connection is busy: say so at once and let the client come back.
            raise Unavailable(
                "The service is busy; try again shortly.", code="database_busy", retry_after=1
            ) from None

    def _bind(self, conn: AsyncConnection) -> None:
        self._bound = conn
        self.users = SqlAlchemyUserRepository(conn)
        self.github_connections = SqlAlchemyGitHubConnectionRepository(conn)
        self.refresh_tokens = SqlAlchemyRefreshTokenRepository(conn)
        self.personal_access_tokens = SqlAlchemyPersonalAccessTokenRepository(conn)
        self.oauth_states = SqlAlchemyOAuthStateRepository(conn)
        self.ai_catalogue = SqlAlchemyModelCatalogueRepository(conn)
        self.api_keys = SqlAlchemyApiKeyRepository(conn)
        self.model_usage = SqlAlchemyModelUsageRepository(conn)
        self.credits = SqlAlchemyCreditLedgerRepository(conn)
        self.billing_catalogue = SqlAlchemyBillingCatalogueRepository(conn)
        self.subscriptions = SqlAlchemySubscriptionRepository(conn)
        self.stripe_events = SqlAlchemyProcessedEventRepository(conn)
        self.repositories = SqlAlchemyRepositoryRepository(conn)
        self.pull_requests = SqlAlchemyPullRequestRepository(conn)
        self.github_deliveries = SqlAlchemyGitHubDeliveryRepository(conn)
        self.repository_events = SqlAlchemyRepositoryEventRepository(conn)
        self.tasks = SqlAlchemyTaskRepository(conn)
        self.task_usage = SqlAlchemyTaskUsageRepository(conn)
        self.task_events = SqlAlchemyTaskEventRepository(conn)
        self.webhook_endpoints = SqlAlchemyWebhookEndpointRepository(conn)
        self.webhook_outbox = SqlAlchemyWebhookOutboxRepository(conn)

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            if not self._committed and conn.in_transaction():
                await conn.rollback()
        except BaseException:
            await self._close(conn)
            raise
        if self._read_only and exc is None:
            self._kept = conn
        else:
            await self._close(conn)

    async def _close(self, conn: AsyncConnection) -> None:
        if conn is self._bound:
            self._bound = None
        await conn.close()

    async def commit(self) -> None:
        if self._read_only and self._conn is not None:
            raise RuntimeError("a read-only block cannot commit")
        await self.connection.commit()
        self._committed = True

    async def release(self) -> None:
        if self._conn is not None:
            raise RuntimeError("a unit of work cannot release its connection inside a block")
        conn, self._kept = self._kept, None
        if conn is not None:
            await self._close(conn)
