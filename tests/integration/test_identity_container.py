"""Identity wiring: every use case resolves; the login throttle is shared through Redis when configured."""

from __future__ import annotations

import pytest

from asynccoder.adapters.memory.identity import InMemoryLoginThrottle
from asynccoder.adapters.redis.login_throttle import RedisLoginThrottle
from asynccoder.application.code_hosting.github_connection import (
    CompleteGitHubConnection,
    DisconnectGitHub,
    GetGitHubConnection,
    StartGitHubConnection,
)
from asynccoder.application.identity.admin import (
    ListUsers,
    UpdateUser,
)
from asynccoder.application.identity.authenticate import AuthenticateCaller
from asynccoder.application.identity.password_change import ChangePassword
from asynccoder.application.identity.personal_access_tokens import (
    CreatePersonalAccessToken,
    ListPersonalAccessTokens,
    RevokePersonalAccessToken,
)
from asynccoder.application.identity.profile import (
    GetProfile,
    UpdateProfile,
)
from asynccoder.application.identity.registration import (
    EnsureAdmin,
    RegisterUser,
)
from asynccoder.application.identity.sessions import (
    EndSession,
    ListSessions,
    LogIn,
    LogOut,
    RefreshSession,
)
from asynccoder.application.ports.identity import (
    ClerkTokenVerifier,
    LoginThrottle,
    PasswordHasher,
)
from asynccoder.ioc.core import make_container
from tests.support.app import make_settings
from tests.support.databases import Databases
from tests.support.services import redis_url

USE_CASES = [
    RegisterUser,
    EnsureAdmin,
    LogIn,
    RefreshSession,
    LogOut,
    ListSessions,
    EndSession,
    ChangePassword,
    CreatePersonalAccessToken,
    ListPersonalAccessTokens,
    RevokePersonalAccessToken,
    GetProfile,
    UpdateProfile,
    ListUsers,
    UpdateUser,
    StartGitHubConnection,
    CompleteGitHubConnection,
    GetGitHubConnection,
    DisconnectGitHub,
    AuthenticateCaller,
]


@pytest.mark.parametrize("use_case", USE_CASES, ids=lambda c: c.__name__)
async def test_every_identity_use_case_resolves(databases: Databases, use_case: type) -> None:
    container = make_container(make_settings(database_url=databases.url("sqlite")))
    try:
        async with container() as request:
            assert isinstance(await request.get(use_case), use_case)
        assert await container.get(PasswordHasher) is not None
        assert await container.get(ClerkTokenVerifier | None) is None  # type: ignore[arg-type]
    finally:
        await container.close()


async def test_without_redis_the_throttle_is_in_process() -> None:
    container = make_container(make_settings())
    try:
        assert isinstance(await container.get(LoginThrottle), InMemoryLoginThrottle)  # type: ignore[type-abstract]
    finally:
        await container.close()


async def test_with_redis_the_throttle_is_shared() -> None:
    container = make_container(make_settings(redis_url=redis_url()))
    try:
        assert isinstance(await container.get(LoginThrottle), RedisLoginThrottle)  # type: ignore[type-abstract]
    finally:
        await container.close()
