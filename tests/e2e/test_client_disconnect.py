"""A client that goes away while its body is read is not a server error."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import ClientFactory
from tests.support.app import make_settings


async def test_a_disconnect_mid_body_is_logged_as_such_not_as_an_unhandled_500(
    client_factory: ClientFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    messages: list[dict[str, Any]] = [
        {"type": "http.request", "body": b'{"email": "ada@exa', "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/v1/auth/login",
        "raw_path": b"/api/v1/auth/login",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver.local"), (b"content-type", b"application/json")],
        "client": ("203.0.113.9", 50000),
        "server": ("testserver.local", 80),
    }
    async with client_factory(make_settings(log_level="INFO")) as client:
        await client.app(scope, receive, send)  # type: ignore[arg-type]

    output = capsys.readouterr()
    logged = output.out + output.err
    assert "client_disconnected" in logged
    assert "unhandled_error" not in logged
    assert "status=500" not in logged
    starts = [m for m in sent if m["type"] == "http.response.start"]
    assert all(m["status"] != 500 for m in starts)
