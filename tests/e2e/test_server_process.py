"""The real server process, started as the README starts it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.databases import Databases
from tests.support.live_server import LiveServer, start_server

Start = Callable[[dict[str, str]], LiveServer]


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Start]:
    servers: list[LiveServer] = []

    def start(env: dict[str, str]) -> LiveServer:
        server = start_server(tmp_path / "data", env)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.mark.slow
def test_serve_with_no_configuration_is_ready_on_sqlite(serve: Start, tmp_path: Path) -> None:
    server = serve({})
    assert server.wait_ready().json()["status"] == "ready"
    assert (tmp_path / "data" / "asynccoder.db").exists()


@pytest.mark.slow
async def test_serve_against_postgresql_is_ready(serve: Start, databases: Databases) -> None:
    server = serve({"DATABASE_URL": databases.url("postgres")})
    assert server.wait_ready().json()["status"] == "ready"
