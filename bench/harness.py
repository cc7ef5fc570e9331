"""Processes and load: servers pinned to core 0, load generators on core 1, wrk and an open-loop generator."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
SERVER_CPU = os.environ.get("BENCH_SERVER_CPU", "0")
LOAD_CPU = os.environ.get("BENCH_LOAD_CPU", "1")


def pinned(cpu: str, argv: list[str]) -> list[str]:
    """``argv`` run on one CPU (taskset), when the machine has it."""
    return ["taskset", "-c", cpu, *argv] if shutil.which("taskset") else argv


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ServerSpec:
    """How to start one server process. ``argv`` gets ``{port}`` formatted in."""

    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    ready_path: str = "/health/ready"


def uvicorn_app(name: str, factory: str, env: dict[str, str] | None = None) -> ServerSpec:
    """A twin (or the product through a factory) under uvicorn, configured like ``asynccoder serve``."""
    argv = [sys.executable, "-m", "uvicorn", "--factory", factory, "--host", "127.0.0.1", "--port", "{port}"]
    argv += ["--no-access-log", "--log-level", "warning", "--no-server-header"]
    return ServerSpec(name, argv, env or {})


def product(name: str, env: dict[str, str]) -> ServerSpec:
    """The product started exactly as the README starts it."""
    argv = [
        sys.executable,
        "-m",
        "asynccoder.entrypoints.cli",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        "{port}",
    ]
    return ServerSpec(name, argv, env)


class Server:
    def __init__(self, spec: ServerSpec, log_dir: Path) -> None:
        self.spec = spec
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_dir / f"{spec.name}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0
        self.ready_seconds = 0.0

    def start(self) -> Server:
        argv = [part.format(port=self.port) for part in self.spec.argv]
        env = {**os.environ, "PYTHONPATH": str(ROOT), **self.spec.env}
        log = self.log_path.open("ab")
        self.started_at = time.monotonic()
        self.process = subprocess.Popen(
            pinned(SERVER_CPU, argv), env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log
        )
        return self

    def wait_ready(self, deadline_seconds: float = 90) -> Server:
        assert self.process is not None
        deadline = time.monotonic() + deadline_seconds
        last: object = None
        with httpx.Client(timeout=2) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(
                        f"{self.spec.name} exited with {self.process.returncode}: see {self.log_path}"
                    )
                try:
                    response = client.get(self.url + self.spec.ready_path)
                    if response.status_code == 200:
                        self.ready_seconds = time.monotonic() - self.started_at
                        return self
                    last = response.status_code
                except httpx.HTTPError as exc:
                    last = exc
                time.sleep(0.02)  # polling for readiness, bounded by the deadline above
        raise RuntimeError(f"{self.spec.name} not ready at {self.url}: {last}")

    def rss_kib(self) -> int:
        """Resident set of the server process (the taskset exec's the server, so it is the same pid)."""
        assert self.process is not None
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def cpu_seconds(self) -> float:
        assert self.process is not None
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def settle(self, deadline_seconds: float = 120) -> float:
        """Wait until the server has worked off what wrk left queued (its CPU time stops growing), so a
        backlog never runs on the server CPU during the next variant's run. Returns the seconds waited."""
        began = time.monotonic()
        deadline = began + deadline_seconds
        last = self.cpu_seconds()
        while time.monotonic() < deadline:
            time.sleep(0.25)  # sampling CPU time over a window, bounded by the deadline
            now = self.cpu_seconds()
            if now - last < 0.01:
                return time.monotonic() - began
            last = now
        raise RuntimeError(f"{self.spec.name} still busy {deadline_seconds:.0f} s after the load stopped")

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# --- wrk -------------------------------------------------------------------------------------------------

LUA_DONE = r"""
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "connect": %d, "read": %d, "write": %d, ' ..
    '"status": %d, "timeout": %d, "p50_us": %d, "p99_us": %d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


@dataclass(frozen=True)
class Load:
    """What wrk sends: one method and body, paths taken in turn, optional unique header per request."""

    path: str | list[str]
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None
    unique_header: str | None = None  # this header gets a new value on every request (e.g. a delivery id)
    # Enough to saturate one core; more only queues requests (and leaves a backlog after each run).
    connections: int = 16
    expect_errors: bool = False  # status >= 400 answers are the point of the scenario (refused overdrafts)

    def lua(self, prefix: str) -> str:
        paths = [self.path] if isinstance(self.path, str) else self.path
        lines = ["local paths = {" + ",".join(json.dumps(p) for p in paths) + "}", "local n = 0"]
        lines.append(f"wrk.method = {json.dumps(self.method)}")
        if self.body is not None:
            lines.append(f"wrk.body = {lua_string(self.body)}")
        for name, value in self.headers.items():
            lines.append(f"wrk.headers[{json.dumps(name)}] = {json.dumps(value)}")
        lines.append("request = function()\n  n = n + 1\n  local path = paths[(n % #paths) + 1]")
        if self.unique_header:
            lines.append(f"  wrk.headers[{json.dumps(self.unique_header)}] = {json.dumps(prefix)} .. n")
        lines.append("  return wrk.format(nil, path)\nend")
        return "\n".join(lines) + "\n" + LUA_DONE


def lua_string(text: str) -> str:
    return "[==[" + text + "]==]" if "]==]" not in text else json.dumps(text)


_runs = 0


def wrk(url: str, load: Load, seconds: float, work_dir: Path) -> dict[str, Any]:
    """One closed-loop wrk run on the load CPU; returns req/s, latency percentiles and error counts."""
    global _runs
    _runs += 1
    prefix = f"bench-{os.getpid()}-{_runs}-"
    script = work_dir / f"wrk-{_runs}.lua"
    script.write_text(load.lua(prefix))
    argv = ["wrk", "-t1", f"-c{load.connections}", f"-d{max(1, round(seconds))}s", "--timeout", "10s"]
    argv += ["-s", str(script), url]
    out = subprocess.run(pinned(LOAD_CPU, argv), capture_output=True, text=True, check=True).stdout
    line = next(line for line in out.splitlines() if line.startswith("BENCH_JSON "))
    result: dict[str, Any] = json.loads(line.removeprefix("BENCH_JSON "))
    # Throughput counts answers below 400 only; errors are kept and reported next to the ratio.
    result["rps"] = (result["requests"] - result["status"]) / (result["duration_us"] / 1e6)
    result["socket_errors"] = result["connect"] + result["read"] + result["write"] + result["timeout"]
    script.unlink()
    return result


def open_loop(url: str, path: str, headers: dict[str, str], rate: float, seconds: float) -> dict[str, Any]:
    """The open-loop generator (bench/openloop.py) at a fixed arrival rate, on the load CPU."""
    argv = [sys.executable, "-m", "bench.openloop", url + path, str(rate), str(seconds), json.dumps(headers)]
    out = subprocess.run(pinned(LOAD_CPU, argv), capture_output=True, text=True, check=True, cwd=ROOT).stdout
    return json.loads(out.strip().splitlines()[-1])


def ensure_wrk() -> None:
    if shutil.which("wrk"):
        return
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    subprocess.run([*sudo, "apt-get", "install", "-y", "wrk"], check=True)
