"""The real server process, started as the README starts it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.databases import Databases


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(base_url: str, deadline_seconds: float = 30) -> httpx.Response:
    deadline = time.monotonic() + deadline_seconds
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            response = httpx.get(f"{base_url}/health/ready", timeout=2)
            if response.status_code == 200:
                return response
        except httpx.HTTPError as exc:
            last = exc
        time.sleep(0.1)
    raise AssertionError(f"server not ready at {base_url}: {last}")


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[callable]:  # type: ignore[valid-type]
    processes: list[subprocess.Popen[bytes]] = []

    def start(env: dict[str, str]) -> str:
        port = free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "asynccoder.entrypoints.cli", "serve", "--port", str(port)],
            env={**os.environ, "ASYNCCODER_DATA_DIR": str(tmp_path / "data"), **env},
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        processes.append(proc)
        return f"http://127.0.0.1:{port}"

    yield start
    for proc in processes:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stderr:
            proc.stderr.close()


@pytest.mark.slow
def test_serve_with_no_configuration_is_ready_on_sqlite(serve, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    base_url = serve({})
    response = wait_ready(base_url)
    assert response.json()["status"] == "ready"
    assert (tmp_path / "data" / "asynccoder.db").exists()


@pytest.mark.slow
async def test_serve_against_postgresql_is_ready(serve, databases: Databases) -> None:  # type: ignore[no-untyped-def]
    url = databases.url("postgres")
    base_url = serve({"DATABASE_URL": url})
    response = wait_ready(base_url)
    assert response.json()["status"] == "ready"
