"""A real API server process on an ephemeral loopback port, started the way the README starts it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    url: str
    process: subprocess.Popen[bytes]
    data_dir: Path

    def wait_ready(self, deadline_seconds: float = 60) -> httpx.Response:
        deadline = time.monotonic() + deadline_seconds
        last: object = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited with {self.process.returncode}")
            try:
                response = httpx.get(f"{self.url}/health/ready", timeout=2)
                if response.status_code == 200:
                    return response
                last = response.text
            except httpx.HTTPError as exc:
                last = exc
            time.sleep(0.1)
        raise AssertionError(f"server not ready at {self.url}: {last}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_server(data_dir: Path, env: dict[str, str] | None = None, *, log: Path | None = None) -> LiveServer:
    """``log``: a file that gets the server's stdout and stderr (else they are discarded)."""
    port = free_port()
    sink = log.open("wb") if log is not None else subprocess.DEVNULL
    process = subprocess.Popen(
        [sys.executable, "-m", "asynccoder.entrypoints.cli", "serve", "--port", str(port)],
        env={
            **os.environ,
            "ASYNCCODER_DATA_DIR": str(data_dir),
            "LOG_LEVEL": "WARNING",
            # tests of the limits switch them on
            "RATE_LIMIT_ENABLED": "false",
            **(env or {}),
        },
        cwd=data_dir.parent,
        stdout=sink,
        stderr=subprocess.STDOUT if log is not None else subprocess.DEVNULL,
    )
    if log is not None:
        sink.close()  # type: ignore[union-attr]  # the child holds its own descriptor
    return LiveServer(url=f"http://127.0.0.1:{port}", process=process, data_dir=data_dir)
