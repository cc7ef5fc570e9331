"""Rate limits on every route, by caller and plan: Litestar's ``RateLimitMiddleware`` and stores.

Who counts: an authenticated caller by user id (every credential of a user, access JWT, Clerk session or
personal access token, shares the user's budget, so minting tokens cannot multiply a plan's limit); an
anonymous caller, or a public route, by client address (``X-Forwarded-For`` believed only from
``TRUSTED_PROXIES``). How much: by the caller's plan ``rate_limit_tier`` (``anonymous`` without a user), per
minute, with a separate and stricter bucket (a fifth of the tier's budget) on the auth, billing and model-test
routes. Health, metrics and the signed webhooks (their senders retry, and they are verified before any work)
are not limited.

Litestar's middleware applies one fixed limit, so there is one instance per (tier, route class); a single
dispatching middleware decides the request's bucket once and hands the request to that one instance only
(the other instances do no work for it); ``identifier_for_request`` names the bucket. The store is
Litestar's ``RedisStore`` when ``REDIS_URL`` is set (every API process shares the count) and its
``MemoryStore`` otherwise.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from litestar import Litestar, Request
from litestar.enums import ScopeType
from litestar.middleware.base import DefineMiddleware
from litestar.middleware.rate_limit import RateLimitConfig, RateLimitMiddleware
from litestar.openapi import ResponseSpec
from litestar.routes import HTTPRoute
from litestar.stores.base import Store
from litestar.stores.memory import MemoryStore
from litestar.stores.redis import RedisStore
from litestar.types import ASGIApp, Receive, Scope, Send

from asynccoder.application.billing.catalogue import GetEntitlements
from asynccoder.application.ports.system import Clock
from asynccoder.domain.billing import RateLimitTier
from asynccoder.domain.errors import Unauthenticated
from asynccoder.domain.identity import Actor
from asynccoder.entrypoints.http.client_ip import client_ip, parse_networks
from asynccoder.entrypoints.http.common import API_PREFIX, Problem
from asynccoder.ioc.settings import Settings

STORE_NAME = "rate_limit"
ANONYMOUS = "anonymous"
# Not limited: probes and scrapes, and the webhooks whose senders sign every delivery and retry on errors.
EXCLUDED_PATHS = ["^/health/", "^/metrics", f"^{API_PREFIX}/webhooks/"]
SENSITIVE_PREFIXES = (f"{API_PREFIX}/auth/", f"{API_PREFIX}/billing/", f"{API_PREFIX}/models/test")
SENSITIVE_SHARE = 5  # the stricter bucket holds a fifth of the tier's per-minute budget
_TIER_CACHE_MAX = 10_000
_STATE_KEY = "rate_limit_bucket"


class RouteClass(enum.StrEnum):
    GENERAL = "general"
    SENSITIVE = "sensitive"


@dataclass(frozen=True, slots=True)
class Bucket:
    """The one counter a request is charged to: ``tier`` and ``route_class`` select the limit, ``caller`` is
    ``user:<id>`` or ``ip:<address>``."""

    tier: str
    route_class: RouteClass
    caller: str


def limits_per_minute(settings: Settings) -> dict[tuple[str, RouteClass], int]:
    """The per-minute limit of every (tier, route class)."""
    general = {
        ANONYMOUS: settings.rate_limit_anonymous_per_minute,
        RateLimitTier.BASIC.value: settings.rate_limit_basic_per_minute,
        RateLimitTier.ELEVATED.value: settings.rate_limit_elevated_per_minute,
        RateLimitTier.UNLIMITED.value: settings.rate_limit_unlimited_per_minute,
    }
    limits: dict[tuple[str, RouteClass], int] = {}
    for tier, per_minute in general.items():
        limits[(tier, RouteClass.GENERAL)] = per_minute
        limits[(tier, RouteClass.SENSITIVE)] = max(1, per_minute // SENSITIVE_SHARE)
    return limits


def route_class(path: str) -> RouteClass:
    return RouteClass.SENSITIVE if path.startswith(SENSITIVE_PREFIXES) else RouteClass.GENERAL


class CallerBuckets:
    """Decides, once per request, which bucket the request is charged to.

    The caller is resolved through the request's container, so the ``Actor`` the guard asks for afterwards is
    the same REQUEST-scoped object (no second lookup). The plan's tier is cached per user for
    ``RATE_LIMIT_TIER_CACHE_SECONDS``: a plan change reaches the limiter within that time.
    """

    def __init__(self, settings: Settings) -> None:
        self._trusted = parse_networks(settings.trusted_proxies)
        self._tier_ttl = timedelta(seconds=settings.rate_limit_tier_cache_seconds)
        self._tiers: dict[UUID, tuple[RateLimitTier, datetime]] = {}

    async def bucket(self, request: Request[Any, Any, Any]) -> Bucket:
        known: Bucket | None = getattr(request.state, _STATE_KEY, None)
        if known is None:
            known = await self._decide(request)
            setattr(request.state, _STATE_KEY, known)
        return known

    async def _decide(self, request: Request[Any, Any, Any]) -> Bucket:
        cls = route_class(request.scope["path"])
        handler = request.scope.get("route_handler")
        public = bool(handler is not None and handler.opt.get("public"))
        authorization = request.headers.get("authorization")
        if authorization and not public:
            container = request.state.dishka_container
            try:
                actor: Actor | None = await container.get(Actor)
            except Unauthenticated:
                actor = None  # the guard answers 401; until then the request counts as anonymous
            if actor is not None:
                tier = await self._tier(actor.user_id, container)
                return Bucket(tier.value, cls, f"user:{actor.user_id}")
        return Bucket(ANONYMOUS, cls, f"ip:{self._client(request)}")

    def _client(self, request: Request[Any, Any, Any]) -> str:
        peer = request.client.host if request.client else None
        return client_ip(peer, request.headers.getall("x-forwarded-for", []), self._trusted)

    async def _tier(self, user_id: UUID, container: Any) -> RateLimitTier:
        clock: Clock = await container.get(Clock)
        now = clock.now()
        cached = self._tiers.get(user_id)
        if cached is not None and cached[1] > now:
            return cached[0]
        get_entitlements: GetEntitlements = await container.get(GetEntitlements)
        tier = (await get_entitlements(user_id)).rate_limit_tier
        if len(self._tiers) >= _TIER_CACHE_MAX:
            self._tiers.clear()
        self._tiers[user_id] = (tier, now + self._tier_ttl)
        return tier


def _config(per_minute: int) -> RateLimitConfig:
    def identifier(request: Request[Any, Any, Any]) -> str:
        bucket: Bucket = getattr(request.state, _STATE_KEY)
        return f"{bucket.tier}:{bucket.route_class}:{bucket.caller}"

    return RateLimitConfig(
        rate_limit=("minute", per_minute),
        identifier_for_request=identifier,
        store=STORE_NAME,
    )


_EXCLUDED = re.compile("|".join(f"(?:{pattern})" for pattern in EXCLUDED_PATHS))


def _dispatch(app: ASGIApp, *, buckets: CallerBuckets, limits: dict[tuple[str, RouteClass], int]) -> ASGIApp:
    limiters = {key: RateLimitMiddleware(app, _config(per_minute)) for key, per_minute in limits.items()}

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or _EXCLUDED.match(scope["path"]):
            await app(scope, receive, send)
            return
        bucket = await buckets.bucket(scope["litestar_app"].request_class(scope))
        limiter = limiters.get((bucket.tier, bucket.route_class))
        await (limiter or app)(scope, receive, send)

    return middleware


def rate_limit_middleware(settings: Settings) -> list[DefineMiddleware]:
    """The limiter, as one app-level middleware (none when ``RATE_LIMIT_ENABLED=false``)."""
    if not settings.rate_limit_enabled:
        return []
    return [DefineMiddleware(_dispatch, buckets=CallerBuckets(settings), limits=limits_per_minute(settings))]


def rate_limit_stores(settings: Settings) -> dict[str, Store]:
    """The counters' store: Redis (shared by every API process) when ``REDIS_URL`` is set, else memory."""
    if settings.redis_url:
        return {STORE_NAME: RedisStore.with_client(url=settings.redis_url, namespace="asynccoder-rate-limit")}
    return {STORE_NAME: MemoryStore()}


RATE_LIMITED_RESPONSE = ResponseSpec(
    data_container=Problem,
    description=(
        "Too many requests (`rate_limited`): wait `Retry-After` seconds. Every limited response carries "
        "`RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` (seconds until the window resets)."
    ),
    media_type="application/problem+json",
)


def document_rate_limits(app: Litestar) -> None:
    """In OpenAPI, every limited operation lists its 429 response."""
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or not _limited(route.path):
            continue
        for handler in route.route_handlers:
            if "OPTIONS" in handler.http_methods:
                continue
            responses = dict(handler.responses or {})
            responses.setdefault(429, RATE_LIMITED_RESPONSE)
            handler.responses = responses


def _limited(path: str) -> bool:
    return not any(re.match(pattern, path) for pattern in EXCLUDED_PATHS)
