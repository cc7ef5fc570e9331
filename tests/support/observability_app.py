"""An app (ASGI factory for a real server process) with one extra public route that fails with secrets in
flight: in its body, its headers, its query string and its locals."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Litestar, Request, post
from litestar.params import JSONBody

from asynccoder.entrypoints.http.app import create_app
from asynccoder.entrypoints.http.auth import PUBLIC


class ProviderKey(msgspec.Struct):
    api_key: str
    note: str


@post("/canary-failure", opt=PUBLIC, operation_id="test_canary_failure")
async def fail_with_secrets_in_flight(request: Request[Any, Any, Any], data: JSONBody[ProviderKey]) -> None:
    raw_body = await request.body()
    authorization = request.headers.get("authorization")
    key = data.api_key
    assert raw_body
    assert authorization
    assert key
    raise RuntimeError("the provider refused the call")


def create_canary_app() -> Litestar:
    return create_app(extra_route_handlers=[fail_with_secrets_in_flight])
