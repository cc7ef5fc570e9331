"""``serve --workers 2`` with ``PROMETHEUS_MULTIPROC_DIR``: whichever process answers the scrape, it reports
the requests every process served."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support.live_server import free_port

REQUESTS = 40
SERIES = re.compile(r'^asynccoder_http_requests_total\{[^}]*path="/health/live"[^}]*\} (\S+)$', re.M)


def _live_count(text: str) -> float:
    return sum(float(value) for value in SERIES.findall(text))


@pytest.mark.slow
def test_every_process_counts_into_one_exposition(tmp_path: Path) -> None:
    multiproc = tmp_path / "prometheus"
    multiproc.mkdir()
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "asynccoder.entrypoints.cli", "serve", "--port", str(port), "--workers", "2"],
        env={
            **os.environ,
            "ASYNCCODER_DATA_DIR": str(tmp_path / "data"),
            "ASYNCCODER_EMBEDDED_WORKER": "false",
            "LOG_LEVEL": "WARNING",
            "PROMETHEUS_MULTIPROC_DIR": str(multiproc),
        },
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, f"server exited with {process.returncode}"
            assert time.monotonic() < deadline, "server not ready"
            try:
                if httpx.get(f"{url}/health/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        for _ in range(REQUESTS):  # a new connection each time, so both processes get some
            assert httpx.get(f"{url}/health/live", timeout=5).status_code == 200
        pids = {path.name.split("_")[-1] for path in multiproc.glob("*.db")}
        assert len(pids) >= 2, "both processes wrote their samples"
        for _ in range(6):
            scrape = httpx.get(f"{url}/metrics", timeout=5, headers={"Connection": "close"})
            assert _live_count(scrape.text) == REQUESTS
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
