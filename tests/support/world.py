"""One test world: the application's own container on the in-memory adapters, with a manual clock,
sequential ids and scripted models.

Use cases come out of the container exactly as the HTTP app and the worker get them (``get`` opens a request
scope, so each use case has the unit of work of its own "request"); the helpers seed the users, credits and
repositories a test starts from. Close the world (``async with`` or ``close()``) at the end of the test.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterable
from contextlib import AsyncExitStack
from types import TracebackType
from typing import Any, TypeVar

from dishka import AsyncContainer, Provider, Scope, provide

from asynccoder.adapters.ai.scripted import ScriptedChatModelFactory
from asynccoder.adapters.memory.store import InMemoryStore
from asynccoder.adapters.memory.uow import InMemoryUnitOfWork
from asynccoder.application.billing.credits import GrantCredits, GrantCreditsInput
from asynccoder.application.ports.ai import TierEntitlements
from asynccoder.application.ports.system import Clock, IdGenerator, SecretBox
from asynccoder.domain.code_hosting import Repository
from asynccoder.domain.identity import User
from asynccoder.ioc.ai import ScriptedAiProvider
from asynccoder.ioc.core import InMemoryPersistenceProvider, make_container
from asynccoder.ioc.settings import Settings
from tests.support.app import make_settings
from tests.support.builders import T0
from tests.support.system import ManualClock, SequentialIdGenerator

T = TypeVar("T")


class _TestSystemProvider(Provider):
    """The world's clock and ids instead of the system's."""

    def __init__(self, clock: Clock, ids: IdGenerator) -> None:
        super().__init__()
        self._clock, self._ids = clock, ids

    @provide(scope=Scope.APP)
    def clock(self) -> Clock:
        return self._clock

    @provide(scope=Scope.APP)
    def ids(self) -> IdGenerator:
        return self._ids


class _CurrentEntitlements(Provider):
    """The tier entitlements the world holds at the time a use case is resolved."""

    def __init__(self, world: World) -> None:
        super().__init__()
        self._world = world

    @provide(scope=Scope.REQUEST)
    def entitlements(self) -> TierEntitlements:
        assert self._world.entitlements is not None
        return self._world.entitlements


class World:
    """The container of ``make_container(settings, InMemoryPersistenceProvider(), ...)`` and its doubles.

    ``overrides`` are further providers (later ones win), for what a test replaces beyond time, ids and
    models. With ``entitlements`` the plan's tier entitlements are replaced by ``world.entitlements``, which a
    test may swap before it gets a use case.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *overrides: Provider,
        clock: ManualClock | None = None,
        ids: SequentialIdGenerator | None = None,
        models: ScriptedChatModelFactory | None = None,
        entitlements: TierEntitlements | None = None,
    ) -> None:
        self.settings = settings or make_settings()
        self.clock = clock or ManualClock(T0)
        self.ids = ids or SequentialIdGenerator()
        self.models = models or ScriptedChatModelFactory()
        self.entitlements = entitlements
        self.container: AsyncContainer = make_container(
            self.settings,
            InMemoryPersistenceProvider(),
            _TestSystemProvider(self.clock, self.ids),
            ScriptedAiProvider(self.models),
            *([_CurrentEntitlements(self)] if entitlements is not None else []),
            *overrides,
        )
        self._scopes = AsyncExitStack()

    async def open(self) -> World:
        """Resolve what the world exposes directly: the in-memory store and the secret box."""
        self.store: InMemoryStore = await self.container.get(InMemoryStore)
        self.box: SecretBox = await self.container.get(SecretBox)
        return self

    async def close(self) -> None:
        await self._scopes.aclose()
        await self.container.close()

    async def __aenter__(self) -> World:
        return await self.open()

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # ---- the container

    async def get(self, kind: type[T]) -> T:
        """``kind`` from a new request scope, open until the world closes (one unit of work per scope)."""
        request = await self._scopes.enter_async_context(self.container())
        return await request.get(kind)

    async def run(self, kind: type[Callable[[Any], Coroutine[Any, Any, T]]], data: Any) -> T:
        """Call the use case ``kind`` with ``data`` in a request scope of its own, closed afterwards."""
        async with self.container() as request:
            use_case = await request.get(kind)
            return await use_case(data)

    def uow(self) -> InMemoryUnitOfWork:
        """A unit of work on the world's store, for arranging and inspecting state directly."""
        return InMemoryUnitOfWork(self.store)

    # ---- seeding

    async def add_users(self, *users: User) -> None:
        async with self.uow() as uow:
            for user in users:
                await uow.users.add(user)
            await uow.commit()

    async def grant(self, user: User | Any, credits: int, key: str | None = None) -> None:
        """Give ``credits`` to ``user`` (a ``User`` or an ``Actor``) as a platform grant."""
        user_id = user.id if isinstance(user, User) else user.user_id
        await self.run(GrantCredits, GrantCreditsInput(user_id, credits, key or f"grant:{user_id}:{credits}"))

    async def add_repositories(self, repositories: Iterable[Repository]) -> None:
        async with self.uow() as uow:
            for repository in repositories:
                await uow.repositories.add(repository)
            await uow.commit()
