"""Every route is either explicitly public or guarded; guarded routes answer 401 without a token."""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.routes import HTTPRoute
from litestar.testing import AsyncTestClient

from asynccoder.entrypoints.http.app import create_app
from asynccoder.entrypoints.http.auth import require_admin, require_user
from tests.support.app import make_settings

# Routes the framework itself adds for the API documentation.
DOCS_PREFIX = "/schema"


def http_handlers(app: Litestar) -> list[tuple[str, Any]]:
    found = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            found.append((route.path, handler))
    return found


def test_every_route_is_public_or_guarded() -> None:
    app = create_app(make_settings())
    unguarded = []
    for path, handler in http_handlers(app):
        if path.startswith(DOCS_PREFIX):
            continue
        guards = handler.resolve_guards()
        if handler.opt.get("public") is True:
            continue
        if require_user not in guards and require_admin not in guards:
            unguarded.append(path)
    assert unguarded == []


def test_every_admin_route_requires_the_admin_role() -> None:
    app = create_app(make_settings())
    for path, handler in http_handlers(app):
        if "/admin" in path:
            assert require_admin in handler.resolve_guards(), path


async def test_every_guarded_route_answers_401_with_www_authenticate_without_a_token() -> None:
    app = create_app(make_settings())
    async with AsyncTestClient(app) as client:
        for path, handler in http_handlers(app):
            if path.startswith(DOCS_PREFIX) or handler.opt.get("public"):
                continue
            concrete = path.replace("{", "").replace("}", "")
            for method in handler.http_methods:
                url = "/".join(
                    "01890000-0000-7000-8000-000000000000" if ":uuid" in p else p for p in concrete.split("/")
                )
                url = url.replace(":str", "x").replace(":int", "1")
                response = await client.request(method, url, json={})
                assert response.status_code == 401, f"{method} {path}"
                assert response.headers["www-authenticate"].startswith("Bearer"), f"{method} {path}"
