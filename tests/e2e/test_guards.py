"""Authentication over HTTP: bearer tokens, 401 vs 403, disabled users."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from dishka.integrations.litestar import FromDishka, inject
from litestar import get
from litestar.testing import AsyncTestClient

from asynccoder.adapters.crypto.jwt_tokens import JwtAccessTokenService
from asynccoder.adapters.sqlalchemy.uow import SqlAlchemyUnitOfWork
from asynccoder.adapters.system.clock import SystemClock
from asynccoder.domain.identity import (
    Actor,
    Role,
    User,
    UserStatus,
)
from asynccoder.entrypoints.http.auth import require_admin
from asynccoder.ioc.settings import Settings
from tests.e2e.conftest import ClientFactory
from tests.support.builders import make_user
from tests.support.databases import Databases


@get("/whoami", operation_id="test_whoami")
@inject
async def whoami(actor: FromDishka[Actor]) -> dict[str, str]:
    return {"user_id": str(actor.user_id), "role": actor.role.value}


@get("/admin/ping", operation_id="test_admin_ping", guards=[require_admin])
async def admin_ping() -> dict[str, str]:
    return {"ok": "yes"}


@pytest.fixture
async def app(
    client_factory: ClientFactory, backend_settings: Settings
) -> AsyncIterator[AsyncTestClient[Any]]:
    async with client_factory(backend_settings, extra_route_handlers=[whoami, admin_ping]) as client:
        yield client


async def _store(databases: Databases, settings: Settings, user: User) -> None:
    from asynccoder.adapters.sqlalchemy.database import create_engine

    engine = create_engine(settings.database_url)
    try:
        async with SqlAlchemyUnitOfWork(engine) as uow:
            await uow.users.add(user)
            await uow.commit()
    finally:
        await engine.dispose()


def _token(settings: Settings, user: User) -> str:
    service = JwtAccessTokenService(
        secret=settings.jwt_secret,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        ttl=timedelta(minutes=15),
    )
    return service.issue(user, now=SystemClock().now()).token


async def test_a_valid_token_reaches_the_handler_as_the_actor(
    app: AsyncTestClient[Any], backend_settings: Settings, databases: Databases
) -> None:
    user = make_user()
    await _store(databases, backend_settings, user)
    response = await app.get(
        "/api/v1/whoami", headers={"Authorization": f"Bearer {_token(backend_settings, user)}"}
    )
    assert response.status_code == 200
    assert response.json() == {"user_id": str(user.id), "role": "user"}


@pytest.mark.parametrize("header", [None, "Bearer", "Basic dXNlcjpwYXNz", "Bearer not-a-token"])
async def test_missing_or_bad_credentials_get_401_with_www_authenticate(
    app: AsyncTestClient[Any], header: str | None
) -> None:
    headers = {"Authorization": header} if header else {}
    response = await app.get("/api/v1/whoami", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.headers["content-type"] == "application/problem+json"


async def test_a_user_token_on_an_admin_route_gets_403(
    app: AsyncTestClient[Any], backend_settings: Settings, databases: Databases
) -> None:
    user = make_user()
    await _store(databases, backend_settings, user)
    response = await app.get(
        "/api/v1/admin/ping", headers={"Authorization": f"Bearer {_token(backend_settings, user)}"}
    )
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"


async def test_an_admin_token_on_an_admin_route_passes(
    app: AsyncTestClient[Any], backend_settings: Settings, databases: Databases
) -> None:
    admin = make_user(role=Role.ADMIN)
    await _store(databases, backend_settings, admin)
    response = await app.get(
        "/api/v1/admin/ping", headers={"Authorization": f"Bearer {_token(backend_settings, admin)}"}
    )
    assert response.status_code == 200


async def test_a_disabled_user_gets_401(
    app: AsyncTestClient[Any], backend_settings: Settings, databases: Databases
) -> None:
    user = dataclasses.replace(make_user(), status=UserStatus.DISABLED)
    await _store(databases, backend_settings, user)
    response = await app.get(
        "/api/v1/whoami", headers={"Authorization": f"Bearer {_token(backend_settings, user)}"}
    )
    assert response.status_code == 401
