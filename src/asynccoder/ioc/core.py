"""The composition root: the only place that names concrete adapters.

``make_container(settings, *overrides)`` builds the dishka container used by the HTTP app, the worker and the
CLI. APP-scoped resources (engine, clients) are generator providers closed when the container closes; REQUEST
scope is one HTTP request or one job. Later providers override earlier ones for the same type, which is how
tests swap an adapter.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Iterable
from typing import Any

from dishka import AsyncContainer, Provider, Scope, from_context, make_async_container, provide
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from asynccoder.adapters.memory.metrics import InMemoryOperationsGauges
from asynccoder.adapters.memory.store import InMemoryStore
from asynccoder.adapters.memory.uow import InMemoryUnitOfWork
from asynccoder.adapters.observability.prometheus_metrics import PrometheusMetrics
from asynccoder.adapters.redis.health import RedisProbe
from asynccoder.adapters.sqlalchemy.database import create_engine
from asynccoder.adapters.sqlalchemy.health import DatabaseProbe, MigrationsProbe
from asynccoder.adapters.sqlalchemy.operations import SqlAlchemyOperationsGauges
from asynccoder.adapters.sqlalchemy.uow import SqlAlchemyUnitOfWork
from asynccoder.adapters.system.clock import SystemClock
from asynccoder.adapters.system.ids import Uuid7Generator
from asynccoder.application.health.check_readiness import CheckReadiness
from asynccoder.application.health.operations import ObserveOperations
from asynccoder.application.ports.metrics import Metrics, OperationsGauges
from asynccoder.application.ports.system import (
    Clock,
    HealthProbe,
    IdGenerator,
)
from asynccoder.application.ports.uow import UnitOfWork
from asynccoder.ioc.agent import AgentProvider
from asynccoder.ioc.ai import AiCatalogueProvider, AiProvider
from asynccoder.ioc.billing import BillingProvider
from asynccoder.ioc.code_hosting import CodeHostingProvider
from asynccoder.ioc.events import TaskEventsProvider
from asynccoder.ioc.identity import IdentityProvider
from asynccoder.ioc.settings import Settings
from asynccoder.ioc.tasks import TasksProvider
from asynccoder.ioc.webhook_endpoints import WebhookEndpointsProvider


class CoreProvider(Provider):
    """Settings, time, ids, metrics, the database and Redis."""

    settings = from_context(provides=Settings, scope=Scope.APP)

    @provide(scope=Scope.APP)
    def clock(self) -> Clock:
        return SystemClock()

    @provide(scope=Scope.APP)
    def ids(self) -> IdGenerator:
        return Uuid7Generator()

    @provide(scope=Scope.APP)
    def metrics(self) -> Metrics:
        return PrometheusMetrics()

    @provide(scope=Scope.APP)
    def operations_gauges(self, engine: AsyncEngine) -> OperationsGauges:
        return SqlAlchemyOperationsGauges(engine)

    @provide(scope=Scope.APP)
    def observe_operations(
        self, gauges: OperationsGauges, metrics: Metrics, clock: Clock
    ) -> ObserveOperations:
        return ObserveOperations(gauges, metrics, clock)

    @provide(scope=Scope.APP)
    async def engine(self, settings: Settings) -> AsyncIterator[AsyncEngine]:
        engine = create_engine(settings.database_url)
        if settings.otlp_endpoint is not None:
            from asynccoder.adapters.observability.tracing import trace_sql  # only with tracing on

            trace_sql(engine)
        yield engine
        await engine.dispose()

    @provide(scope=Scope.APP)
    async def redis(self, settings: Settings) -> AsyncIterator[Redis | None]:
        if settings.redis_url is None:
            yield None
            return
        client: Redis = Redis.from_url(settings.redis_url, socket_connect_timeout=2, socket_timeout=5)
        yield client
        await client.aclose()

    @provide(scope=Scope.REQUEST)
    async def uow(self, engine: AsyncEngine) -> AsyncIterator[UnitOfWork]:
        uow = SqlAlchemyUnitOfWork(engine)
        try:
            yield uow
        finally:
            # A read-only block's connection is kept for the next block; the scope's end gives it back.
            await uow.release()

    @provide(scope=Scope.APP)
    def readiness(self, engine: AsyncEngine, redis: Redis | None) -> CheckReadiness:
        probes: list[HealthProbe] = [DatabaseProbe(engine), MigrationsProbe(engine)]
        if redis is not None:
            probes.append(RedisProbe(redis))
        return CheckReadiness(probes)


class InMemoryPersistenceProvider(Provider):
    """Runs every repository in process memory: for unit-level app tests and throwaway demos."""

    @provide(scope=Scope.APP)
    def store(self) -> InMemoryStore:
        return InMemoryStore()

    @provide(scope=Scope.REQUEST)
    def uow(self, store: InMemoryStore) -> UnitOfWork:
        return InMemoryUnitOfWork(store)

    @provide(scope=Scope.APP)
    def operations_gauges(self, store: InMemoryStore) -> OperationsGauges:
        return InMemoryOperationsGauges(store)

    @provide(scope=Scope.APP)
    def readiness(self) -> CheckReadiness:
        return CheckReadiness([])


def default_providers() -> list[Provider]:
    return [
        CoreProvider(),
        IdentityProvider(),
        AiProvider(),
        AiCatalogueProvider(),
        BillingProvider(),
        CodeHostingProvider(),
        TasksProvider(),
        TaskEventsProvider(),
        AgentProvider(),
        WebhookEndpointsProvider(),
    ]


def make_container(
    settings: Settings, *overrides: Provider, base: Iterable[Provider] | None = None
) -> AsyncContainer:
    """Build the container for ``settings``; ``overrides`` replace what the default providers provide."""
    providers = [*(base if base is not None else default_providers()), *overrides]
    if settings.otlp_endpoint is not None:
        providers.append(traced_use_cases(providers))
    return make_async_container(*providers, context={Settings: settings})


def use_case_types(providers: Iterable[Provider]) -> list[type]:
    """The use cases ``providers`` provide: classes of ``asynccoder.application`` (not its ports) whose one
    entry point is an async ``__call__``."""
    found: dict[type, None] = {}
    for provider in providers:
        for factory in provider.factories:
            provided = factory.provides.type_hint
            if (
                isinstance(provided, type)
                and provided.__module__.startswith("asynccoder.application.")
                and not provided.__module__.startswith("asynccoder.application.ports.")
                and inspect.iscoroutinefunction(vars(provided).get("__call__"))
            ):
                found[provided] = None
    return list(found)


def traced_use_cases(providers: Iterable[Provider]) -> Provider:
    """Decorates every use case so that each call is a span named by its class (with tracing on): one place,
    not an edit in every use case."""
    from asynccoder.adapters.observability.tracing import TracedUseCase  # only with tracing on

    provider = Provider()
    for use_case in use_case_types(providers):

        def traced(inner: Any) -> Any:
            return TracedUseCase(inner)

        # dishka reads the decorated type from the annotations: set them per use case.
        traced.__annotations__ = {"inner": use_case, "return": use_case}
        provider.decorate(traced, provides=use_case)
    return provider
