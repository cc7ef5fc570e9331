"""Rate limits on every route: per user by plan tier, per client address when anonymous, shared over Redis."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from uuid import UUID

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from litestar.types import ASGIApp, Receive, Scope, Send
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy.ext.asyncio import AsyncEngine

from asynccoder.adapters.crypto.jwt_tokens import JwtAccessTokenService
from asynccoder.adapters.sqlalchemy.uow import SqlAlchemyUnitOfWork
from asynccoder.adapters.system.ids import Uuid7Generator
from asynccoder.domain.billing import Subscription, SubscriptionStatus
from asynccoder.domain.identity import User
from asynccoder.entrypoints.http.app import create_app
from asynccoder.entrypoints.http.rate_limit import limits_per_minute, rate_limit_middleware
from asynccoder.ioc.settings import Settings
from tests.support.app import make_settings
from tests.support.billing import PRO, seed_catalogue
from tests.support.builders import make_user
from tests.support.databases import Databases
from tests.support.services import redis_url, unavailable

# basic 15/min (billing, auth, model test: 3), elevated 30/min (6), anonymous 10/min (2)
LIMITS = {
    "rate_limit_enabled": True,
    "rate_limit_anonymous_per_minute": 10,
    "rate_limit_basic_per_minute": 15,
    "rate_limit_elevated_per_minute": 30,
}
PROFILE = "/api/v1/users/profile"
IDS = Uuid7Generator()


PEER_HEADER = "x-test-peer"


def peer_from_header(app: ASGIApp) -> ASGIApp:
    """Test-only: the connection's peer address is the ``x-test-peer`` header (the test client has one)."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            peer = next((v.decode() for k, v in scope["headers"] if k == PEER_HEADER.encode()), None)
            if peer:
                scope["client"] = (peer, 40000)
        await app(scope, receive, send)

    return wrapped


@dataclasses.dataclass
class Peer:
    """Requests through the test client, from one peer address."""

    http: AsyncTestClient[Any]
    address: str

    async def get(self, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
        return await self.http.get(path, headers={**(headers or {}), PEER_HEADER: self.address})


@dataclasses.dataclass
class Api:
    http: AsyncTestClient[Any]
    settings: Settings
    engine: AsyncEngine
    last_user_id: UUID | None = None

    @property
    def app(self) -> Litestar:
        return cast(Litestar, self.http.app)

    @asynccontextmanager
    async def client(self, peer: str = "192.0.2.10") -> AsyncIterator[Peer]:
        yield Peer(self.http, peer)

    async def user(self, *, subscribed_to_pro: bool = False) -> dict[str, str]:
        user = make_user(id=IDS.new_id())  # real UUIDv7: no clash with earlier runs' Redis counters
        async with SqlAlchemyUnitOfWork(self.engine) as uow:
            await uow.users.add(user)
            await uow.commit()
        if subscribed_to_pro:
            await self.subscribe_to_pro(user.id)
        self.last_user_id = user.id
        return {"Authorization": f"Bearer {_token(self.settings, user)}"}

    async def subscribe_to_pro(self, user_id: UUID) -> None:
        async with SqlAlchemyUnitOfWork(self.engine) as uow:
            await uow.subscriptions.insert_if_absent(_pro_subscription(user_id))
            await uow.commit()


def _pro_subscription(user_id: UUID) -> Subscription:
    now = datetime.now(UTC)
    return Subscription(
        id=IDS.new_id(),
        user_id=user_id,
        plan_id=PRO.id,
        stripe_subscription_id=f"sub_{uuid.uuid4().hex[:12]}",
        status=SubscriptionStatus.ACTIVE,
        current_period_start=now - timedelta(days=1),
        current_period_end=now + timedelta(days=29),
        cancel_at_period_end=False,
        last_event_at=now,
        created_at=now,
        updated_at=now,
    )


def _token(settings: Settings, user: User) -> str:
    service = JwtAccessTokenService(
        secret=settings.jwt_secret,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        ttl=timedelta(minutes=15),
    )
    return service.issue(user, now=datetime.now(UTC)).token


@asynccontextmanager
async def running(settings: Settings, engine: AsyncEngine) -> AsyncIterator[Api]:
    app = create_app(settings)
    app.asgi_handler = peer_from_header(app.asgi_handler)
    async with AsyncTestClient(app, base_url="http://testserver.local") as http:
        yield Api(http, settings, engine)


@pytest.fixture
async def sqlite(databases: Databases) -> AsyncEngine:
    engine = await databases.clean_engine("sqlite")
    await seed_catalogue(lambda: SqlAlchemyUnitOfWork(engine))
    return engine


@pytest.fixture
async def api(databases: Databases, sqlite: AsyncEngine) -> AsyncIterator[Api]:
    async with running(make_settings(database_url=databases.url("sqlite"), **LIMITS), sqlite) as api:
        yield api


async def test_a_user_gets_the_plans_limit_with_ratelimit_headers_then_429_with_retry_after(api: Api) -> None:
    auth = await api.user()
    async with api.client() as http:
        for n in range(15):
            ok = await http.get(PROFILE, headers=auth)
            assert ok.status_code == 200, ok.text
            assert ok.headers["ratelimit-limit"] == "15"
            assert ok.headers["ratelimit-remaining"] == str(14 - n)
            assert 0 < int(ok.headers["ratelimit-reset"]) <= 60
        refused = await http.get(PROFILE, headers=auth)
    assert refused.status_code == 429
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["code"] == "rate_limited"
    assert refused.json()["limit"] == 15
    assert refused.headers["ratelimit-remaining"] == "0"
    # Retry-After: when the window resets, not a fixed guess.
    assert int(refused.headers["retry-after"]) == max(1, int(refused.headers["ratelimit-reset"])) > 1


async def test_each_user_has_its_own_budget_whatever_address_it_calls_from(api: Api) -> None:
    ada, bob = await api.user(), await api.user()
    for n in range(15):
        async with api.client(peer=f"192.0.2.{n + 1}") as http:
            assert (await http.get(PROFILE, headers=ada)).status_code == 200
    async with api.client() as http:
        assert (await http.get(PROFILE, headers=ada)).status_code == 429
        assert (await http.get(PROFILE, headers=bob)).status_code == 200


async def test_a_higher_plan_tier_gets_a_higher_limit(api: Api) -> None:
    free, pro = await api.user(), await api.user(subscribed_to_pro=True)
    async with api.client() as http:
        assert (await http.get(PROFILE, headers=free)).headers["ratelimit-limit"] == "15"
        for _ in range(30):
            ok = await http.get(PROFILE, headers=pro)
            assert ok.status_code == 200
            assert ok.headers["ratelimit-limit"] == "30"
        assert (await http.get(PROFILE, headers=pro)).status_code == 429


async def test_the_plan_tier_is_looked_up_once_then_cached_not_per_request(api: Api) -> None:
    auth = await api.user()
    assert api.last_user_id is not None
    async with api.client() as http:
        assert (await http.get(PROFILE, headers=auth)).headers["ratelimit-limit"] == "15"
        await api.subscribe_to_pro(api.last_user_id)
        # RATE_LIMIT_TIER_CACHE_SECONDS (60 s) later the new tier applies; until then no lookup is made.
        assert (await http.get(PROFILE, headers=auth)).headers["ratelimit-limit"] == "15"
        subscription = (await http.get("/api/v1/billing/subscription", headers=auth)).json()
        assert subscription["entitlements"]["rate_limit_tier"] == "elevated"  # the plan did change


async def test_billing_routes_have_a_stricter_bucket_of_their_own(api: Api) -> None:
    auth = await api.user()
    async with api.client() as http:
        for _ in range(3):
            ok = await http.get("/api/v1/billing/subscription", headers=auth)
            assert ok.status_code == 200, ok.text
            assert ok.headers["ratelimit-limit"] == "3"
        assert (await http.get("/api/v1/billing/subscription", headers=auth)).status_code == 429
        assert (await http.get(PROFILE, headers=auth)).headers["ratelimit-remaining"] == "14"


async def test_anonymous_callers_are_limited_per_address_and_spoofed_forwarded_for_is_ignored(
    api: Api,
) -> None:
    async with api.client(peer="198.51.100.7") as http:
        for n in range(10):
            spoofed = {"X-Forwarded-For": f"203.0.113.{n}"}
            answered = await http.get("/api/v1/tasks", headers=spoofed)
            assert answered.status_code == 401
            assert answered.headers["ratelimit-limit"] == "10"
        refused = await http.get("/api/v1/tasks", headers={"X-Forwarded-For": "203.0.113.200"})
        assert refused.status_code == 429
        assert refused.json()["code"] == "rate_limited"
    async with api.client(peer="198.51.100.8") as other:
        assert (await other.get("/api/v1/tasks")).status_code == 401


async def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_budget(
    databases: Databases, sqlite: AsyncEngine
) -> None:
    settings = make_settings(database_url=databases.url("sqlite"), trusted_proxies=("10.0.0.0/8",), **LIMITS)
    async with running(settings, sqlite) as api, api.client(peer="10.0.0.5") as proxy:
        for _ in range(10):
            assert (
                await proxy.get("/api/v1/tasks", headers={"X-Forwarded-For": "203.0.113.1"})
            ).status_code == 401
        assert (
            await proxy.get("/api/v1/tasks", headers={"X-Forwarded-For": "203.0.113.1"})
        ).status_code == 429
        assert (
            await proxy.get("/api/v1/tasks", headers={"X-Forwarded-For": "203.0.113.2"})
        ).status_code == 401


async def test_an_invalid_token_counts_against_the_callers_address(api: Api) -> None:
    async with api.client(peer="198.51.100.9") as http:
        for _ in range(10):
            answered = await http.get(PROFILE, headers={"Authorization": "Bearer not-a-token"})
            assert answered.status_code == 401
        assert (await http.get(PROFILE, headers={"Authorization": "Bearer other"})).status_code == 429


async def test_health_checks_are_not_limited(api: Api) -> None:
    async with api.client() as http:
        for _ in range(25):
            live = await http.get("/health/live")
            assert live.status_code == 200
            assert "ratelimit-limit" not in live.headers


def test_every_limited_operation_documents_its_429(api: Api) -> None:
    paths = api.app.openapi_schema.paths or {}
    for path, item in paths.items():
        for method in ("get", "post", "put", "patch", "delete"):
            operation = getattr(item, method)
            if operation is None:
                continue
            limited = not path.startswith(("/health/", "/api/v1/webhooks/"))
            assert ("429" in (operation.responses or {})) is limited, (method, path)


@pytest.fixture
async def redis_store_url() -> AsyncIterator[str]:
    url = redis_url()
    client = Redis.from_url(url, socket_connect_timeout=2)
    try:
        await client.ping()
    except (RedisConnectionError, OSError) as exc:
        await client.aclose()
        unavailable("Redis", str(exc))
    yield url
    await client.aclose()


@pytest.mark.redis
async def test_two_api_instances_on_one_redis_share_every_limit(
    databases: Databases, sqlite: AsyncEngine, redis_store_url: str
) -> None:
    settings = make_settings(database_url=databases.url("sqlite"), redis_url=redis_store_url, **LIMITS)
    peer = f"198.18.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"  # its own anonymous bucket
    async with AsyncExitStack() as stack:
        first = await stack.enter_async_context(running(settings, sqlite))
        second = await stack.enter_async_context(running(settings, sqlite))
        auth = await first.user()
        clients = [
            await stack.enter_async_context(first.client(peer)),
            await stack.enter_async_context(second.client(peer)),
        ]
        for n in range(15):
            ok = await clients[n % 2].get(PROFILE, headers=auth)
            assert ok.status_code == 200
            assert ok.headers["ratelimit-remaining"] == str(14 - n)
        assert (await clients[0].get(PROFILE, headers=auth)).status_code == 429
        assert (await clients[1].get(PROFILE, headers=auth)).status_code == 429
        for n in range(10):
            assert (await clients[n % 2].get("/api/v1/tasks")).status_code == 401
        assert (await clients[1].get("/api/v1/tasks")).status_code == 429


def test_one_middleware_decides_and_charges_each_request_whatever_the_number_of_buckets() -> None:
    settings = make_settings(rate_limit_enabled=True)
    assert len(limits_per_minute(settings)) > 1  # several (tier, route class) buckets...
    assert len(rate_limit_middleware(settings)) == 1  # ...and one middleware on the request path
