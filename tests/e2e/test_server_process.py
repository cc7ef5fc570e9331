"""The real server process, started as the README starts it."""

from __future__ import annotations

import socket
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


def _closed_while_trickling(sock: socket.socket, *, lines: int = 80) -> bool:
    """Sends one more header line every quarter second (a slowloris client: each byte would cancel uvicorn's
    own keep-alive timer); ``True`` once the server has closed the connection."""
    sock.settimeout(0.25)
    for number in range(lines):
        try:
            if sock.recv(65536) == b"":
                return True
        except TimeoutError:
            pass
        except ConnectionResetError:
            return True
        try:
            sock.sendall(f"X-Slow-{number}: a\r\n".encode())
        except (BrokenPipeError, ConnectionResetError):
            return True
    return False


def _read_response(sock: socket.socket) -> bytes:
    sock.settimeout(20)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length")
    )
    while len(body) < length:
        body += sock.recv(65536)
    return head


@pytest.mark.slow
def test_slow_and_oversized_request_heads_are_cut_off_by_the_server(serve: Start) -> None:
    server = serve({"SERVER_KEEP_ALIVE_TIMEOUT_SECONDS": "1", "SERVER_MAX_HEADER_BYTES": "4096"})
    server.wait_ready()
    address = ("127.0.0.1", int(server.url.rsplit(":", 1)[1]))

    with socket.create_connection(address) as idle:  # connects, sends nothing
        idle.settimeout(30)
        assert idle.recv(1) == b""
    with socket.create_connection(address) as slow:
        slow.sendall(b"GET /health/live HTTP/1.1\r\nHost: api\r\n")
        assert _closed_while_trickling(slow), "a slow head on a new connection"
    with socket.create_connection(address) as kept:
        kept.sendall(b"GET /health/live HTTP/1.1\r\nHost: api\r\n\r\n")
        assert _read_response(kept).startswith(b"HTTP/1.1 200")
        kept.sendall(b"GET /health/live HTTP/1.1\r\nHost: api\r\n")
        assert _closed_while_trickling(kept), "a slow head of the next request on a kept-alive connection"
    with socket.create_connection(address) as large:
        large.sendall(b"GET /health/live HTTP/1.1\r\nHost: api\r\nX-Big: " + b"a" * 8192 + b"\r\n\r\n")
        assert _read_response(large).startswith(b"HTTP/1.1 431")
    with socket.create_connection(address) as fitting:
        fitting.sendall(b"GET /health/live HTTP/1.1\r\nHost: api\r\nX-Fits: " + b"a" * 2048 + b"\r\n\r\n")
        assert _read_response(fitting).startswith(b"HTTP/1.1 200")
