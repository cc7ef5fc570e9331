"""An API process with the live-events route wired the way the integrator will wire it (test-only routes and
the test tables stand in for the task engine), served by uvicorn on an ephemeral loopback port."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from litestar import Litestar

from asynccoder.entrypoints.http.app import create_app
from asynccoder.entrypoints.http.tasks.events import stream_task_events
from asynccoder.ioc.events import TaskEventsProvider
from asynccoder.ioc.settings import load_settings
from tests.support.live_server import LiveServer, free_port
from tests.support.task_events import SqlTaskEventsProvider, events_test_routes


def create() -> Litestar:
    """ASGI factory: the real app plus ``TaskEventsProvider``, the SSE route and the test-only routes."""
    return create_app(
        load_settings(),
        overrides=[TaskEventsProvider(), SqlTaskEventsProvider()],
        extra_route_handlers=[stream_task_events, *events_test_routes],
    )


def start_events_server(data_dir: Path, env: dict[str, str] | None = None) -> LiveServer:
    port = free_port()
    repo_root = Path(__file__).resolve().parents[2]
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "tests.support.events_app:create",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-server-header",
            "--log-level",
            "warning",
            "--timeout-graceful-shutdown",
            "5",
        ],
        env={
            **os.environ,
            "ASYNCCODER_DATA_DIR": str(data_dir),
            "LOG_LEVEL": "WARNING",
            "PASSWORD_HASH_MEMORY_KIB": "64",
            "PASSWORD_HASH_TIME_COST": "1",
            "PYTHONPATH": str(repo_root),
            "RATE_LIMIT_ENABLED": "false",  # tests of the limits switch them on
            **(env or {}),
        },
        cwd=repo_root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return LiveServer(url=f"http://127.0.0.1:{port}", process=process, data_dir=data_dir)
