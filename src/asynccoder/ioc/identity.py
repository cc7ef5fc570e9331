"""Identity wiring: passwords, login throttling, sessions, personal access tokens, Clerk, GitHub OAuth."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import structlog
from dishka import Provider, Scope, provide
from redis.asyncio import Redis

from asynccoder.adapters.clerk.session_tokens import JwksClerkTokenVerifier
from asynccoder.adapters.crypto.passwords import Argon2PasswordHasher
from asynccoder.adapters.github_oauth.oauth_client import HttpxGitHubOAuth
from asynccoder.adapters.memory.login_throttle import InMemoryLoginThrottle
from asynccoder.adapters.redis.login_throttle import RedisLoginThrottle
from asynccoder.application.accounts.admin import ListUsers, UpdateUser
from asynccoder.application.accounts.github import (
    CompleteGitHubConnection,
    DisconnectGitHub,
    GetGitHubConnection,
    GitHubConnectSettings,
    StartGitHubConnection,
)
from asynccoder.application.accounts.profile import GetProfile, UpdateProfile
from asynccoder.application.auth.personal_access_tokens import (
    CreatePersonalAccessToken,
    ListPersonalAccessTokens,
    RevokePersonalAccessToken,
)
from asynccoder.application.auth.ports import (
    AccessTokenService,
    ClerkTokenVerifier,
    GitHubOAuth,
    LoginThrottle,
    PasswordHasher,
)
from asynccoder.application.auth.registration import EnsureAdmin, RegisterUser
from asynccoder.application.auth.sessions import LogIn, LogOut, RefreshSession, SessionIssuer, SessionPolicy
from asynccoder.application.common.ports import Clock, IdGenerator
from asynccoder.ioc.settings import Settings

log = structlog.get_logger("asynccoder.ioc")
GITHUB_CALLBACK_PATH = "/api/v1/users/github/callback"


class AccountsProvider(Provider):
    """Everything behind /api/v1/auth, /api/v1/users and /api/v1/admin/users."""

    @provide(scope=Scope.APP)
    def password_hasher(self, settings: Settings) -> PasswordHasher:
        return Argon2PasswordHasher(
            memory_kib=settings.password_hash_memory_kib,
            time_cost=settings.password_hash_time_cost,
            parallelism=settings.password_hash_parallelism,
        )

    @provide(scope=Scope.APP)
    def login_throttle(self, settings: Settings, clock: Clock, redis: Redis | None) -> LoginThrottle:
        limits = {
            "account_limit": settings.login_max_failures_per_account,
            "client_limit": settings.login_max_failures_per_client,
            "window_seconds": settings.login_failure_window_seconds,
        }
        if redis is not None:
            return RedisLoginThrottle(redis, prefix="asynccoder", **limits)
        return InMemoryLoginThrottle(clock, **limits)

    @provide(scope=Scope.APP)
    def session_issuer(
        self, settings: Settings, tokens: AccessTokenService, ids: IdGenerator
    ) -> SessionIssuer:
        return SessionIssuer(
            tokens,
            ids,
            SessionPolicy(
                access_ttl=timedelta(seconds=settings.access_token_ttl_seconds),
                refresh_idle_ttl=timedelta(seconds=settings.refresh_token_idle_ttl_seconds),
                refresh_absolute_ttl=timedelta(seconds=settings.refresh_token_absolute_ttl_seconds),
            ),
        )

    @provide(scope=Scope.APP)
    async def clerk_tokens(
        self, settings: Settings, clock: Clock
    ) -> AsyncIterator[ClerkTokenVerifier | None]:
        if not settings.clerk_jwks_url or not settings.clerk_issuer:
            if settings.clerk_jwks_url:
                log.warning("clerk_disabled", reason="CLERK_ISSUER is not set")
            yield None
            return
        async with httpx.AsyncClient(timeout=httpx.Timeout(5.0), follow_redirects=False) as http:
            yield JwksClerkTokenVerifier(
                jwks_url=settings.clerk_jwks_url,
                issuer=settings.clerk_issuer,
                authorized_parties=settings.clerk_authorized_parties,
                http=http,
                clock=clock,
                refetch_interval_seconds=settings.clerk_jwks_refetch_seconds,
            )

    @provide(scope=Scope.APP)
    async def github_oauth(self, settings: Settings) -> AsyncIterator[GitHubOAuth]:
        async with httpx.AsyncClient(timeout=httpx.Timeout(10.0), follow_redirects=False) as http:
            yield HttpxGitHubOAuth(
                oauth_url=settings.github_oauth_url,
                api_url=settings.github_api_url,
                client_id=settings.github_client_id,
                client_secret=settings.github_client_secret,
                scopes=settings.github_oauth_scopes,
                http=http,
            )

    @provide(scope=Scope.APP)
    def github_connect_settings(self, settings: Settings) -> GitHubConnectSettings:
        return GitHubConnectSettings(redirect_uri=settings.public_base_url + GITHUB_CALLBACK_PATH)

    register_user = provide(RegisterUser, scope=Scope.REQUEST)
    ensure_admin = provide(EnsureAdmin, scope=Scope.REQUEST)
    log_in = provide(LogIn, scope=Scope.REQUEST)
    refresh_session = provide(RefreshSession, scope=Scope.REQUEST)
    log_out = provide(LogOut, scope=Scope.REQUEST)
    create_pat = provide(CreatePersonalAccessToken, scope=Scope.REQUEST)
    list_pats = provide(ListPersonalAccessTokens, scope=Scope.REQUEST)
    revoke_pat = provide(RevokePersonalAccessToken, scope=Scope.REQUEST)
    get_profile = provide(GetProfile, scope=Scope.REQUEST)
    update_profile = provide(UpdateProfile, scope=Scope.REQUEST)
    list_users = provide(ListUsers, scope=Scope.REQUEST)
    update_user = provide(UpdateUser, scope=Scope.REQUEST)
    start_github = provide(StartGitHubConnection, scope=Scope.REQUEST)
    complete_github = provide(CompleteGitHubConnection, scope=Scope.REQUEST)
    get_github = provide(GetGitHubConnection, scope=Scope.REQUEST)
    disconnect_github = provide(DisconnectGitHub, scope=Scope.REQUEST)
