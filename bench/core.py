"""The scenario registry, the shared bench context and the interleaved-rounds method."""

from __future__ import annotations

import base64
import os
import statistics
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench import seed
from bench.harness import Load, Server, ServerSpec, product, uvicorn_app, wrk

JWT_SECRET = "bench-jwt-secret-" + "x" * 32
# The test suite's key, so repositories seeded with tests/support's sealed webhook secret open here too.
ENCRYPTION_KEYS = "k1:" + base64.b64encode(base64.b64decode("q" * 43 + "=")).decode()


@dataclass
class Row:
    """One line of the results table."""

    scenario: str
    label: str
    unit: str  # "ratio", "ms", "s", "MiB", "count"
    median: float
    low: float | None = None
    high: float | None = None
    target: str = ""
    met: bool | None = None
    note: str = ""
    samples: list[float] = field(default_factory=list)


@dataclass
class World:
    """A product server with seeded data: a user with 20 connected repositories, optionally an admin."""

    server: Server
    env: dict[str, str]
    user_token: str
    admin_token: str | None = None


@dataclass(frozen=True)
class Variant:
    name: str
    server: Callable[[Bench], Server]
    load: Callable[[Bench], Load]


@dataclass(frozen=True)
class Ratio:
    """``numerator`` req/s over ``denominator`` req/s, computed per round; ``target`` is a minimum."""

    label: str
    numerator: str
    denominator: str
    target: float | None = None
    note: str = ""


Scenario = Callable[["Bench"], list[Row]]
SCENARIOS: dict[str, Scenario] = {}


def scenario(name: str) -> Callable[[Scenario], Scenario]:
    """Register a scenario; ``nox -s bench`` runs them in registration order (``-- name ...`` picks some)."""

    def register(fn: Scenario) -> Scenario:
        SCENARIOS[name] = fn
        return fn

    return register


class Bench:
    """Servers started on first use and kept until the end, seeded worlds, and the run's parameters."""

    def __init__(
        self, work_dir: Path, *, rounds: int, seconds: float, warmup: float, postgres_url: str
    ) -> None:
        self.work_dir = work_dir
        self.rounds = rounds
        self.seconds = seconds
        self.warmup = warmup
        self.postgres_url = postgres_url
        self.servers: dict[str, Server] = {}
        self.worlds: dict[str, World] = {}
        self.cache: dict[str, Any] = {}
        self.repos_root = work_dir / "repositories"
        self.repository_names = seed.make_git_repositories(self.repos_root)
        self.measurements: dict[str, Any] = {}

    # --- servers ------------------------------------------------------------------------------------

    def server(self, spec: ServerSpec) -> Server:
        if spec.name not in self.servers:
            self.servers[spec.name] = Server(spec, self.work_dir).start().wait_ready()
        return self.servers[spec.name]

    def product_env(self, backend: str) -> dict[str, str]:
        data = self.work_dir / f"data-{backend}"
        data.mkdir(exist_ok=True)
        env = {
            "ASYNCCODER_ENV": "development",
            "ASYNCCODER_DATA_DIR": str(data),
            "JWT_SECRET": JWT_SECRET,
            "ENCRYPTION_KEYS": ENCRYPTION_KEYS,
            # Production's logging: JSON lines at INFO (to /dev/null here).
            "LOG_LEVEL": "INFO",
            "LOG_FORMAT": "json",
            "CODE_HOST": "local",
            "LOCAL_REPOSITORIES_ROOT": str(self.repos_root),
            # wrk from one address would be refused within a second; the ratios compare request paths.
            "RATE_LIMIT_ENABLED": "false",
        }
        if backend == "sqlite":
            env["DATABASE_URL"] = f"sqlite+aiosqlite:///{data / 'asynccoder.db'}"
        elif backend == "postgres":
            env["DATABASE_URL"] = self.postgres_url
        elif backend == "memory":
            env["DATABASE_URL"] = f"sqlite+aiosqlite:///{data / 'unused.db'}"
            env["ASYNCCODER_AUTO_MIGRATE"] = "false"
        return env

    def product_spec(self, backend: str) -> ServerSpec:
        env = self.product_env(backend)
        if backend == "memory":
            return ServerSpec(
                "product-memory", [sys.executable, "-m", "bench.twins.product_memory", "{port}"], env
            )
        return product(f"product-{backend}", env)

    def world(self, backend: str) -> World:
        """The product on ``backend`` (sqlite, postgres, memory) with a user owning 20 repositories."""
        if backend not in self.worlds:
            server = self.server(self.product_spec(backend))
            env = self.product_env(backend)
            with httpx.Client(base_url=server.url, timeout=30) as client:
                token = seed.register_and_login(client, f"bench-user@{backend}.example.com")
                seed.connect_repositories(client, token, self.repository_names)
                admin = None
                if backend != "memory":  # the CLI cannot reach another process's memory
                    seed.create_admin(env, f"bench-admin@{backend}.example.com")
                    admin = seed.login(client, f"bench-admin@{backend}.example.com")
            self.worlds[backend] = World(server, env, token, admin)
        return self.worlds[backend]

    def twin(self, name: str, factory: str, *, database: bool = False) -> Server:
        env = {"JWT_SECRET": JWT_SECRET}
        if database:
            env["DATABASE_URL"] = self.postgres_url
        return self.server(uvicorn_app(name, factory, env))

    def release(self, *names: str) -> None:
        """Stop servers a scenario no longer needs (their idle pools hold PostgreSQL connections)."""
        for name in names:
            server = self.servers.pop(name, None)
            if server is not None:
                server.stop()

    def stop_all(self) -> None:
        for server in self.servers.values():
            server.stop()

    # --- the method ---------------------------------------------------------------------------------

    def interleave(self, scenario_name: str, variants: list[Variant], ratios: list[Ratio]) -> list[Row]:
        """Warm every variant, then ``rounds`` rounds running each variant once, the order rotating per round;
        each ratio is computed within a round, and the table shows the median and min-max over rounds."""
        resolved = [(v.name, v.server(self), v.load(self)) for v in variants]
        for _name, server, load in resolved:
            wrk(server.url, load, self.warmup, self.work_dir)
            server.settle()
        per_round: list[dict[str, dict[str, Any]]] = []
        for index in range(self.rounds):
            order = resolved[index % len(resolved) :] + resolved[: index % len(resolved)]
            results = {}
            for name, server, load in order:
                results[name] = wrk(server.url, load, self.seconds, self.work_dir)
                results[name]["settle_s"] = server.settle()
            per_round.append(results)
            print(
                f"  {scenario_name} round {index + 1}: "
                + ", ".join(f"{n} {r['rps']:.0f}/s" for n, r in results.items()),
                flush=True,
            )
        rps = {name: [r[name]["rps"] for r in per_round] for name, _, _ in resolved}
        self.measurements[scenario_name] = {"rps": rps, "rounds": per_round}
        rows = []
        for name, _server, load in resolved:
            status = sum(r[name]["status"] for r in per_round)
            sockets = sum(r[name]["socket_errors"] for r in per_round)
            total = sum(r[name]["requests"] for r in per_round)
            note = ""
            if (status and not load.expect_errors) or sockets:
                note = f"**{status} answers >= 400 and {sockets} socket errors/timeouts in {total} requests**"
            v = rps[name]
            rows.append(
                Row(
                    scenario_name,
                    f"{name} (req/s, for scale only)",
                    "req/s",
                    statistics.median(v),
                    min(v),
                    max(v),
                    note=note,
                    samples=v,
                )
            )
        for ratio in ratios:
            values = [n / d for n, d in zip(rps[ratio.numerator], rps[ratio.denominator], strict=True)]
            median = statistics.median(values)
            rows.append(
                Row(
                    scenario_name,
                    ratio.label,
                    "ratio",
                    median,
                    min(values),
                    max(values),
                    target=f">= {ratio.target}" if ratio.target is not None else "",
                    met=None if ratio.target is None else median >= ratio.target,
                    note=ratio.note,
                    samples=values,
                )
            )
        return rows


def bearer(token: str | None) -> dict[str, str]:
    assert token is not None
    return {"Authorization": f"Bearer {token}"}


def env_flag(name: str, default: str) -> str:
    return os.environ.get(name, default)
