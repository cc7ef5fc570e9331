"""Identity wiring: passwords, login throttling, sessions, personal access tokens, Clerk, GitHub OAuth."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import structlog
from dishka import Provider, Scope, provide
from redis.asyncio import Redis

from asynccoder.adapters.clerk.session_tokens import JwksClerkTokenVerifier
from asynccoder.adapters.crypto.jwt_tokens import JwtAccessTokenService
from asynccoder.adapters.crypto.passwords import Argon2PasswordHasher
from asynccoder.adapters.crypto.secret_box import AesGcmSecretBox
from asynccoder.adapters.memory.identity import InMemoryLoginThrottle
from asynccoder.adapters.redis.login_throttle import RedisLoginThrottle
from asynccoder.application.identity.access_tokens import AccessTokenVerifier
from asynccoder.application.identity.admin import (
    ListUsers,
    UpdateUser,
)
from asynccoder.application.identity.authenticate import AuthenticateCaller
from asynccoder.application.identity.clerk import ClerkSessionVerifier
from asynccoder.application.identity.password_change import ChangePassword
from asynccoder.application.identity.personal_access_tokens import (
    CreatePersonalAccessToken,
    ListPersonalAccessTokens,
    PersonalAccessTokenVerifier,
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
    SessionIssuer,
    SessionPolicy,
)
from asynccoder.application.ports.identity import (
    AccessTokenService,
    ClerkTokenVerifier,
    CredentialVerifier,
    LoginThrottle,
    PasswordHasher,
)
from asynccoder.application.ports.system import (
    Clock,
    IdGenerator,
    SecretBox,
)
from asynccoder.application.ports.uow import UnitOfWork
from asynccoder.ioc.settings import Settings

log = structlog.get_logger("asynccoder.ioc")


class IdentityProvider(Provider):
    """Everything behind /api/v1/auth, /api/v1/users and /api/v1/admin/users: tokens, credential verification,
    passwords, login throttling, Clerk, secrets at rest, and the identity use cases."""

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
        if clerk is not None:  # None unless Clerk is configured
            verifiers.append(ClerkSessionVerifier(clerk, uow, ids, clock))
        return AuthenticateCaller(verifiers, uow)

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
            "pair_limit": settings.login_max_failures_per_account,
            "client_limit": settings.login_max_failures_per_client,
            "window_seconds": settings.login_failure_window_seconds,
            "account_delay_cap_seconds": settings.login_account_delay_cap_seconds,
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

    register_user = provide(RegisterUser, scope=Scope.REQUEST)
    ensure_admin = provide(EnsureAdmin, scope=Scope.REQUEST)
    log_in = provide(LogIn, scope=Scope.REQUEST)
    refresh_session = provide(RefreshSession, scope=Scope.REQUEST)
    log_out = provide(LogOut, scope=Scope.REQUEST)
    create_pat = provide(CreatePersonalAccessToken, scope=Scope.REQUEST)
    list_pats = provide(ListPersonalAccessTokens, scope=Scope.REQUEST)
    revoke_pat = provide(RevokePersonalAccessToken, scope=Scope.REQUEST)
    list_sessions = provide(ListSessions, scope=Scope.REQUEST)
    end_session = provide(EndSession, scope=Scope.REQUEST)
    change_password = provide(ChangePassword, scope=Scope.REQUEST)
    get_profile = provide(GetProfile, scope=Scope.REQUEST)
    update_profile = provide(UpdateProfile, scope=Scope.REQUEST)
    list_users = provide(ListUsers, scope=Scope.REQUEST)
    update_user = provide(UpdateUser, scope=Scope.REQUEST)
