"""Who is calling: the bearer credential, resolved once per request, and the guards every route passes.

Every route under ``/api/v1`` requires an authenticated user unless its handler is marked ``opt={"public":
True}``; admin routes add ``guards=[require_admin]``. A route-inventory test keeps it that way.
"""

from __future__ import annotations

from typing import Any

from dishka import AsyncContainer, Provider, Scope, from_context, provide
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from asynccoder.application.identity.authenticate import AuthenticateCaller
from asynccoder.domain.errors import Unauthenticated
from asynccoder.domain.identity import Actor

PUBLIC = {"public": True}


def bearer_credential(authorization: str | None) -> str | None:
    """The credential of an ``Authorization: Bearer <credential>`` header, else ``None``."""
    if not authorization:
        return None
    scheme, _, credential = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not credential.strip():
        raise Unauthenticated("Use 'Authorization: Bearer <token>'.", code="invalid_token")
    return credential.strip()


class HttpAuthProvider(Provider):
    """Provides the acting user of an HTTP request (REQUEST scope: resolved at most once per request)."""

    request = from_context(provides=Request, scope=Scope.REQUEST)

    @provide(scope=Scope.REQUEST)
    async def actor(self, request: Request, authenticate: AuthenticateCaller) -> Actor:  # type: ignore[type-arg]
        return await authenticate(bearer_credential(request.headers.get("authorization")))


def _container(connection: ASGIConnection[Any, Any, Any, Any]) -> AsyncContainer:
    container: AsyncContainer = connection.state.dishka_container
    return container


async def require_user(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """Guard: an authenticated, active user, unless the handler is marked public."""
    if handler.opt.get("public"):
        return
    await _container(connection).get(Actor)


async def require_admin(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """Guard: the caller has the admin role (the domain's one check, ``Actor.require_admin``)."""
    actor = await _container(connection).get(Actor)
    actor.require_admin()
