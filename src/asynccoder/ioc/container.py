"""The composition root: the only place that names concrete adapters.

``make_container(settings, *overrides)`` builds the dishka container used by the HTTP app, the worker and the
CLI. APP-scoped resources (engine, clients) are generator providers closed when the container closes; REQUEST
scope is one HTTP request or one job. Later providers override earlier ones for the same type, which is how
tests swap an adapter.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from datetime import timedelta

from dishka import AsyncContainer, Provider, Scope, from_context, make_async_container, provide
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from asynccoder.adapters.crypto.jwt_tokens import JwtAccessTokenService
from asynccoder.adapters.crypto.secret_box import AesGcmSecretBox
from asynccoder.adapters.memory.store import InMemoryStore
from asynccoder.adapters.memory.uow import InMemoryUnitOfWork
from asynccoder.adapters.redis.health import RedisProbe
from asynccoder.adapters.sqlalchemy.database import create_engine
from asynccoder.adapters.sqlalchemy.health import DatabaseProbe, MigrationsProbe
from asynccoder.adapters.sqlalchemy.uow import SqlAlchemyUnitOfWork
from asynccoder.adapters.system.clock import SystemClock
from asynccoder.adapters.system.ids import Uuid7Generator
from asynccoder.application.auth.access_tokens import AccessTokenVerifier
from asynccoder.application.auth.authenticate import AuthenticateCaller
from asynccoder.application.auth.clerk import ClerkSessionVerifier
from asynccoder.application.auth.personal_access_tokens import PersonalAccessTokenVerifier
from asynccoder.application.auth.ports import (
    AccessTokenService,
    ClerkTokenVerifier,
    CredentialVerifier,
    SecretBox,
)
from asynccoder.application.common.ports import Clock, IdGenerator, UnitOfWork
from asynccoder.application.health.check_readiness import CheckReadiness, HealthProbe
from asynccoder.ioc.ai import AiProvider
from asynccoder.ioc.ai_catalogue import AiCatalogueProvider
from asynccoder.ioc.billing import BillingProvider
from asynccoder.ioc.github import GitHubProvider
from asynccoder.ioc.identity import AccountsProvider
from asynccoder.ioc.settings import Settings
from asynccoder.ioc.tasks import TasksProvider


class CoreProvider(Provider):
    """Settings, time, ids, the database and Redis."""

    settings = from_context(provides=Settings, scope=Scope.APP)

    @provide(scope=Scope.APP)
    def clock(self) -> Clock:
        return SystemClock()

    @provide(scope=Scope.APP)
    def ids(self) -> IdGenerator:
        return Uuid7Generator()

    @provide(scope=Scope.APP)
    async def engine(self, settings: Settings) -> AsyncIterator[AsyncEngine]:
        engine = create_engine(settings.database_url)
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
    def uow(self, engine: AsyncEngine) -> UnitOfWork:
        return SqlAlchemyUnitOfWork(engine)

    @provide(scope=Scope.APP)
    def readiness(self, engine: AsyncEngine, redis: Redis | None) -> CheckReadiness:
        probes: list[HealthProbe] = [DatabaseProbe(engine), MigrationsProbe(engine)]
        if redis is not None:
            probes.append(RedisProbe(redis))
        return CheckReadiness(probes)


class IdentityProvider(Provider):
    """Access tokens, credential verification and secrets at rest."""

    @provide(scope=Scope.APP)
    def access_tokens(self, settings: Settings) -> AccessTokenService:
        return JwtAccessTokenService(
            secret=settings.jwt_secret,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            ttl=timedelta(seconds=settings.access_token_ttl_seconds),
        )

    @provide(scope=Scope.APP)
    def secret_box(self, settings: Settings) -> SecretBox:
        return AesGcmSecretBox([(key.key_id, key.material) for key in settings.encryption_keys])

    @provide(scope=Scope.REQUEST)
    def authenticate(
        self,
        tokens: AccessTokenService,
        clock: Clock,
        ids: IdGenerator,
        uow: UnitOfWork,
        clerk: ClerkTokenVerifier | None,
    ) -> AuthenticateCaller:
        verifiers: list[CredentialVerifier] = [
            AccessTokenVerifier(tokens, clock),
            PersonalAccessTokenVerifier(uow, clock),
        ]
        if clerk is not None:  # provided by ioc.identity.AccountsProvider, None unless Clerk is configured
            verifiers.append(ClerkSessionVerifier(clerk, uow, ids, clock))
        return AuthenticateCaller(verifiers, uow)


class InMemoryPersistenceProvider(Provider):
    """Runs every repository in process memory: for unit-level app tests and throwaway demos."""

    @provide(scope=Scope.APP)
    def store(self) -> InMemoryStore:
        return InMemoryStore()

    @provide(scope=Scope.REQUEST)
    def uow(self, store: InMemoryStore) -> UnitOfWork:
        return InMemoryUnitOfWork(store)

    @provide(scope=Scope.APP)
    def readiness(self) -> CheckReadiness:
        return CheckReadiness([])


def default_providers() -> list[Provider]:
    return [
        CoreProvider(),
        IdentityProvider(),
        AccountsProvider(),
        AiProvider(),
        AiCatalogueProvider(),
        BillingProvider(),
        GitHubProvider(),
        TasksProvider(),
    ]


def make_container(
    settings: Settings, *overrides: Provider, base: Iterable[Provider] | None = None
) -> AsyncContainer:
    """Build the container for ``settings``; ``overrides`` replace what the default providers provide."""
    providers = [*(base if base is not None else default_providers()), *overrides]
    return make_async_container(*providers, context={Settings: settings})
