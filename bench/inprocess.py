"""An in-process ASGI driver for profiling the request path without a server or a load generator.

``python -m bench.inprocess --backend sqlite|postgres|memory [--requests N] [--profile] PATH...`` builds the
product the way ``asynccoder serve`` does (settings from a bench environment), seeds one account with 20
repositories through the HTTP API, then calls ``app(scope, receive, send)`` in a loop for each path and prints
requests per second and the process's CPU time per request (all threads, the SQLite driver's too: far less
sensitive to a busy machine than wall time), with ``--profile`` cProfile's top functions. The numbers are for
before/after comparisons of one change on the same machine, never absolute claims.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.core import ENCRYPTION_KEYS, JWT_SECRET
from bench.seed import PASSWORD, REPOSITORIES, make_git_repositories


def _env(
    backend: str, work: Path, postgres_url: str | None, rate_limit: bool, log_level: str
) -> dict[str, str]:
    data = work / f"data-{backend}"
    data.mkdir(exist_ok=True)
    env = {
        "ASYNCCODER_ENV": "development",
        "ASYNCCODER_DATA_DIR": str(data),
        "JWT_SECRET": JWT_SECRET,
        "ENCRYPTION_KEYS": ENCRYPTION_KEYS,
        "LOG_LEVEL": log_level,
        "LOG_FORMAT": "json",
        "CODE_HOST": "local",
        "LOCAL_REPOSITORIES_ROOT": str(work / "repos"),
        "RATE_LIMIT_ENABLED": "true" if rate_limit else "false",
        "DATABASE_URL": f"sqlite+aiosqlite:///{data / 'asynccoder.db'}",
    }
    if rate_limit:  # limited, but never refused: the driver measures the limiter's cost, not its answer
        for tier in ("ANONYMOUS", "BASIC", "ELEVATED", "UNLIMITED"):
            env[f"RATE_LIMIT_{tier}_PER_MINUTE"] = "1000000"
    if backend == "postgres":
        env["DATABASE_URL"] = postgres_url or os.environ["ASYNCCODER_BENCH_POSTGRES_URL"]
    if backend == "memory":
        env["ASYNCCODER_AUTO_MIGRATE"] = "false"
    return env


async def _call(app: Any, path: str, headers: list[tuple[bytes, bytes]]) -> int:
    status = 0

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    raw_path, _, query = path.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": raw_path,
        "raw_path": raw_path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    await app(scope, receive, send)
    return status


async def _run(args: argparse.Namespace) -> None:
    from litestar.testing import AsyncTestClient

    from asynccoder.entrypoints.http.app import create_app
    from asynccoder.ioc.core import InMemoryPersistenceProvider

    work = Path(tempfile.mkdtemp(prefix="inprocess-"))
    names = make_git_repositories(work / "repos", REPOSITORIES)
    os.environ.update(_env(args.backend, work, args.postgres_url, args.rate_limit, args.log_level))
    overrides = [InMemoryPersistenceProvider()] if args.backend == "memory" else []
    app = create_app(overrides=overrides)
    async with AsyncTestClient(app) as client:
        email = f"bench-{os.getpid()}-{time.time_ns()}@example.com"
        registered = await client.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD})
        assert registered.status_code == 202, registered.text
        login = await client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
        token = login.json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        for name in names:
            created = await client.post("/api/v1/repositories", json={"full_name": name}, headers=auth)
            assert created.status_code == 201, created.text
        headers = [(b"host", b"127.0.0.1"), (b"authorization", f"Bearer {token}".encode())]
        for path in args.paths:
            for _ in range(args.warmup):
                await _call(app, path, headers)
            profiler = cProfile.Profile() if args.profile else None
            statuses: dict[int, int] = {}
            started, cpu_started = time.perf_counter(), time.process_time()
            if profiler:
                profiler.enable()
            for _ in range(args.requests):
                status = await _call(app, path, headers)
                statuses[status] = statuses.get(status, 0) + 1
            if profiler:
                profiler.disable()
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
            print(
                f"{args.backend} {path}: {args.requests / elapsed:.0f} req/s wall, "
                f"{cpu / args.requests * 1e6:.0f} us CPU/request, statuses {statuses}",
                flush=True,
            )
            if profiler:
                pstats.Stats(profiler, stream=sys.stdout).sort_stats(args.sort).print_stats(args.top)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("paths", nargs="+")
    parser.add_argument("--backend", default="sqlite", choices=["sqlite", "postgres", "memory"])
    parser.add_argument("--postgres-url")
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--rate-limit", action="store_true")
    parser.add_argument("--log-level", default="INFO", help="INFO (production) or WARNING (no access log)")
    parser.add_argument("--sort", default="tottime")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.run(_run(args))
    except ImportError:
        asyncio.run(_run(args))


if __name__ == "__main__":
    main()
