"""A failure with secrets in flight leaves none of them in the log, in either log format."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from litestar import Request, post
from litestar.params import JSONBody

from asynccoder.entrypoints.http.auth import PUBLIC
from tests.e2e.conftest import ClientFactory
from tests.support.app import make_settings

KEY_CANARY = "sk-ant-canary-0c1d2e3f4a5b"
TOKEN_CANARY = "acp_canarytoken9f8e7d6c5b4a"
BODY_CANARY = "webhook-body-canary-77aa"


class ProviderKey(msgspec.Struct):
    api_key: str
    note: str


@post("/canary-failure", opt=PUBLIC, operation_id="test_canary_failure")
async def fail_with_secrets_in_flight(request: Request[Any, Any, Any], data: JSONBody[ProviderKey]) -> None:
    raw_body = await request.body()
    authorization = request.headers.get("authorization")
    key = data.api_key
    # raw_body, authorization and key are live locals of the failing frame
    assert raw_body
    assert authorization
    assert key
    raise RuntimeError("the provider refused the call")


@pytest.mark.parametrize("fmt", ["console", "json"])
async def test_an_unhandled_error_logs_no_body_header_or_local(
    client_factory: ClientFactory, capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    settings = make_settings(log_format=fmt, log_level="INFO")
    async with client_factory(settings, extra_route_handlers=[fail_with_secrets_in_flight]) as client:
        response = await client.post(
            "/api/v1/canary-failure",
            json={"api_key": KEY_CANARY, "note": BODY_CANARY},
            headers={"Authorization": f"Bearer {TOKEN_CANARY}"},
        )
    assert response.status_code == 500
    output = capsys.readouterr()
    logged = output.out + output.err
    assert "unhandled_error" in logged
    assert "RuntimeError: the provider refused the call" in logged  # the traceback itself is kept
    for canary in (KEY_CANARY, TOKEN_CANARY, BODY_CANARY):
        assert canary not in logged, (fmt, canary)
    assert "locals" not in logged
