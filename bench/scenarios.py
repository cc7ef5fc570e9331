"""Every scenario that exists on main. Add one with ``@scenario("name")`` (see bench/README.md)."""

from __future__ import annotations

import json
import re
import statistics
import subprocess
import sys
import time
from collections import Counter
from typing import Any

import httpx

from bench import seed
from bench.core import Bench, Ratio, Row, Variant, bearer, scenario
from bench.harness import (
    LOAD_CPU,
    ROOT,
    SERVER_CPU,
    Load,
    Server,
    ServerSpec,
    open_loop,
    pinned,
    uvicorn_app,
    wrk,
)

HELLO = "bench.twins.hello:create"


def hello(b: Bench) -> Server:
    return b.twin("twin-hello", HELLO)


def product_on(backend: str) -> Any:
    return lambda b: b.world(backend).server


def authed(backend: str, path: str) -> Any:
    return lambda b: Load(path, headers=bearer(b.world(backend).user_token))


BACKENDS = ("sqlite", "memory", "postgres")
LIST = "/api/v1/repositories"


@scenario("request_path")
def request_path(b: Bench) -> list[Row]:
    """Closed-loop throughput of the hot reads against a bare hello and against the list twins."""
    variants = [
        Variant("hello", hello, lambda b: Load("/")),
        Variant("health_live", product_on("sqlite"), lambda b: Load("/health/live")),
    ]
    for backend in BACKENDS:
        variants.append(
            Variant(f"profile_{backend}", product_on(backend), authed(backend, "/api/v1/users/profile"))
        )
        variants.append(Variant(f"repos_{backend}", product_on(backend), authed(backend, LIST)))
        if backend != "memory":  # the in-memory catalogue is empty (the seed lives in migration 0005)
            variants.append(
                Variant(f"models_{backend}", product_on(backend), authed(backend, "/api/v1/models"))
            )
    variants.append(
        Variant(
            "twin_psycopg",
            lambda b: b.twin("twin-psycopg", "bench.twins.psycopg_list:create", database=True),
            authed("postgres", LIST),
        )
    )
    variants.append(
        Variant(
            "twin_fastapi",
            lambda b: b.twin("twin-fastapi", "bench.twins.fastapi_list:create", database=True),
            authed("postgres", LIST),
        )
    )
    ratios = [Ratio("GET /health/live vs bare hello", "health_live", "hello", 0.8)]
    for backend in BACKENDS:
        target = 0.65 if backend == "memory" else None
        ratios.append(Ratio(f"profile on {backend} vs bare hello", f"profile_{backend}", "hello"))
        ratios.append(
            Ratio(f"repositories list (20) on {backend} vs bare hello", f"repos_{backend}", "hello", target)
        )
        if backend != "memory":
            ratios.append(Ratio(f"models on {backend} vs bare hello", f"models_{backend}", "hello"))
    ratios += [
        Ratio("repositories list on PostgreSQL vs raw-psycopg twin", "repos_postgres", "twin_psycopg", 0.5),
        Ratio(
            "repositories list on PostgreSQL vs FastAPI+ORM+Pydantic twin",
            "repos_postgres",
            "twin_fastapi",
            1.5,
        ),
        Ratio("FastAPI twin vs raw-psycopg twin (context)", "twin_fastapi", "twin_psycopg"),
    ]
    rows = b.interleave("request_path", variants, ratios)
    for backend in BACKENDS:  # same SQL result as the twins: the bodies must match item for item
        if backend == "postgres":
            ours = httpx.get(
                b.world("postgres").server.url + LIST, headers=bearer(b.world("postgres").user_token)
            ).json()
            for twin in ("twin-psycopg", "twin-fastapi"):
                theirs = httpx.get(
                    b.servers[twin].url + LIST, headers=bearer(b.world("postgres").user_token)
                ).json()
                if _normalised(theirs) != _normalised(ours):
                    raise RuntimeError(f"{twin} does not return the product's list")
    b.release("twin-psycopg", "twin-fastapi")
    return rows


def _normalised(body: dict[str, Any]) -> Any:
    """Timestamps compared as instants (serialisers differ in the offset spelling)."""
    text = json.dumps(body, sort_keys=True)
    return re.sub(r"(\d{2}:\d{2}:\d{2})(\.\d+)?(Z|\+00:00)", r"\1\2Z", text)


@scenario("open_loop")
def open_loop_tail(b: Bench) -> list[Row]:
    """Fixed arrival rate at 50 % of each endpoint's measured maximum: the tail should stay near the median"""
    maxima = b.measurements.get("request_path", {}).get("rps", {})
    rows = []
    endpoints = [
        ("health_live", "sqlite", "/health/live", False),
        ("repos_sqlite", "sqlite", LIST, True),
        ("repos_memory", "memory", LIST, True),
        ("repos_postgres", "postgres", LIST, True),
    ]
    for name, backend, path, auth in endpoints:
        if name not in maxima:
            continue
        world = b.world(backend)
        rate = 0.5 * statistics.median(maxima[name])
        result = open_loop(
            world.server.url, path, bearer(world.user_token) if auth else {}, rate, max(8.0, b.seconds * 2)
        )
        b.measurements.setdefault("open_loop", {})[name] = result
        ratio = result["p99_ms"] / result["p50_ms"] if result["p50_ms"] else float("inf")
        ok = result["errors"] == 0 and result["dropped"] == 0 and result["achieved_rps"] >= 0.9 * rate
        rows.append(
            Row(
                "open_loop",
                f"{name} at {rate:.0f} req/s: p99 / p50",
                "ratio",
                ratio,
                target="<= 4",
                met=ratio <= 4 and ok,
                note=f"p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms, "
                f"achieved {result['achieved_rps']:.0f}/s, "
                f"errors {result['errors']}, dropped {result['dropped']}",
            )
        )
    return rows


VICTIM_CREDITS = 100
SPEND = json.dumps({"kind": "adjustment", "amount_credits": -1, "reason": "bench spend"})


def _credit_check(env: dict[str, str], users: list[Any]) -> dict[str, int]:
    """Read the product's tables: negative balances, and accounts whose balance is not its ledger's sum."""
    import sqlalchemy as sa
    from sqlalchemy.ext.asyncio import AsyncEngine

    from asynccoder.adapters.sqlalchemy.billing_tables import credit_accounts, credit_ledger

    async def work(request: Any) -> dict[str, int]:
        engine = await request.get(AsyncEngine)
        sums = (
            sa.select(
                credit_ledger.c.user_id,
                sa.func.sum(credit_ledger.c.available_delta).label("available"),
                sa.func.sum(credit_ledger.c.held_delta).label("held"),
                sa.func.count().label("entries"),
            )
            .group_by(credit_ledger.c.user_id)
            .subquery()
        )
        query = (
            sa.select(
                credit_accounts.c.available,
                credit_accounts.c.held,
                sums.c.available,
                sums.c.held,
                sums.c.entries,
            )
            .join(sums, sums.c.user_id == credit_accounts.c.user_id)
            .where(credit_accounts.c.user_id.in_(users))
        )
        async with engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return {
            "accounts": len(rows),
            "negative": sum(1 for r in rows if r[0] < 0 or r[1] < 0),
            "ledger_mismatch": sum(1 for r in rows if r[0] != r[2] or r[1] != r[3]),
            "entries": sum(int(r[4]) for r in rows),
            "available": sum(int(r[0]) for r in rows),
        }

    return seed.in_container(env, work)


def _credits(b: Bench, backend: str) -> list[Row]:
    world = b.world(backend)
    spread = seed.add_users_with_credits(world.env, 1000, 1_000_000)
    hot = seed.add_users_with_credits(world.env, 1, 1_000_000)
    admin = bearer(world.admin_token)
    paths = {
        "hot": f"/api/v1/admin/users/{hot[0]}/credits",
        "spread": [f"/api/v1/admin/users/{u}/credits" for u in spread],
    }
    variants = [
        Variant(
            f"one_account_{backend}",
            lambda b: world.server,
            lambda b: Load(
                paths["hot"], "POST", {**admin, "Content-Type": "application/json"}, SPEND, connections=64
            ),
        ),
        Variant(
            f"1000_accounts_{backend}",
            lambda b: world.server,
            lambda b: Load(
                paths["spread"], "POST", {**admin, "Content-Type": "application/json"}, SPEND, connections=64
            ),
        ),
    ]
    rows = b.interleave(
        f"credits_{backend}",
        variants,
        [
            Ratio(
                f"64 clients spending on ONE account vs over 1,000 ({backend})",
                f"one_account_{backend}",
                f"1000_accounts_{backend}",
                0.8,
            )
        ],
    )
    # Overdraft attempt: 100 credits, 64 clients debiting one credit at a time until some are refused.
    victim = seed.add_users_with_credits(world.env, 1, VICTIM_CREDITS)
    drain = Load(
        f"/api/v1/admin/users/{victim[0]}/credits",
        "POST",
        {**admin, "Content-Type": "application/json"},
        SPEND,
        expect_errors=True,
        connections=64,
    )
    burst = {"requests": 0, "status": 0}
    for _ in range(20):
        result = wrk(world.server.url, drain, 2, b.work_dir)
        world.server.settle()
        burst = {key: burst[key] + result[key] for key in burst}
        if result["status"]:
            break
    check = _credit_check(world.env, [*spread, *hot, *victim])
    victim_check = _credit_check(world.env, victim)
    b.measurements.setdefault("credit_checks", {})[backend] = {
        "all": check,
        "overdraft_burst": victim_check,
        "burst": burst,
    }
    sound = check["negative"] == 0 and check["ledger_mismatch"] == 0 and check["accounts"] == len(spread) + 2
    drained = (
        victim_check["available"] == 0 and victim_check["entries"] == VICTIM_CREDITS + 1
    )  # grant + debits
    rows.append(
        Row(
            f"credits_{backend}",
            f"after the load ({backend}): negative balances, balance != sum of ledger",
            "count",
            check["negative"] + check["ledger_mismatch"],
            target="0",
            met=sound,
            note=f"{check['accounts']} accounts, {check['entries']} ledger entries checked",
        )
    )
    rows.append(
        Row(
            f"credits_{backend}",
            f"overdraft burst ({backend}): {VICTIM_CREDITS} credits, {burst['requests']} debit attempts",
            "count",
            victim_check["available"],
            target=f"0 left, {VICTIM_CREDITS} debits",
            met=drained,
            note=f"{victim_check['entries'] - 1} debits accepted, {burst['status']} refused",
        )
    )
    return rows


@scenario("credits_postgres")
def credits_postgres(b: Bench) -> list[Row]:
    return _credits(b, "postgres")


@scenario("credits_sqlite")
def credits_sqlite(b: Bench) -> list[Row]:
    return _credits(b, "sqlite")


@scenario("webhooks")
def webhooks(b: Bench) -> list[Row]:
    """GitHub deliveries (a 25 KB pull_request event, signed): first, duplicate, and a raw-insert twin."""
    from tests.support.builders import make_user
    from tests.support.code_hosting import seed_repository, signed
    from tests.support.github_payloads import pull_request_event

    from asynccoder.application.ports.uow import UnitOfWork
    from asynccoder.domain.code_hosting import Permission

    world = b.world("postgres")

    async def work(request: Any) -> None:
        await seed_repository(await request.get(UnitOfWork), users=[(make_user(), Permission.ADMIN)])

    seed.in_container(world.env, work)
    event = pull_request_event()
    event["pull_request"]["body"] = "Long description. " * 1350
    body, signature = signed(event)
    headers = {
        "X-GitHub-Event": "pull_request",
        "X-Hub-Signature-256": signature,
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/bench",
    }
    text = body.decode()
    first = httpx.post(
        world.server.url + "/api/v1/webhooks/github",
        content=body,
        headers={**headers, "X-GitHub-Delivery": "bench-dup"},
    )
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "processed", first.text
    again = httpx.post(
        world.server.url + "/api/v1/webhooks/github",
        content=body,
        headers={**headers, "X-GitHub-Delivery": "bench-dup"},
    )
    assert again.json()["status"] == "duplicate", again.text
    path = "/api/v1/webhooks/github"
    variants = [
        Variant(
            "first_delivery",
            lambda b: world.server,
            lambda b: Load(path, "POST", headers, text, unique_header="X-GitHub-Delivery"),
        ),
        Variant(
            "duplicate",
            lambda b: world.server,
            lambda b: Load(path, "POST", {**headers, "X-GitHub-Delivery": "bench-dup"}, text),
        ),
        Variant(
            "twin_raw_insert",
            lambda b: b.twin("twin-webhook", "bench.twins.webhook_insert:create", database=True),
            lambda b: Load(path, "POST", headers, text, unique_header="X-GitHub-Delivery"),
        ),
    ]
    rows = b.interleave(
        "webhooks",
        variants,
        [
            Ratio("first delivery vs raw-insert twin", "first_delivery", "twin_raw_insert", 0.5),
            Ratio("duplicate vs first delivery", "duplicate", "first_delivery", 1.5),
        ],
    )
    b.release("twin-webhook")
    return rows


@scenario("footprint")
def footprint(b: Bench) -> list[Row]:
    """Start-to-ready and idle RSS, fresh processes, product (SQLite, migrated) and bare hello interleaved."""
    world = b.world("sqlite")
    token = world.user_token
    ready: dict[str, list[float]] = {"product": [], "hello": []}
    rss: dict[str, list[float]] = {"product": [], "hello": []}
    for index in range(b.rounds):
        order = ["product", "hello"] if index % 2 == 0 else ["hello", "product"]
        for name in order:
            spec = b.product_spec("sqlite") if name == "product" else uvicorn_app("twin-hello", HELLO)
            spec.name = f"footprint-{name}"
            server = Server(spec, b.work_dir).start().wait_ready()
            try:
                with httpx.Client(base_url=server.url, headers=bearer(token)) as client:
                    for _ in range(200):
                        client.get("/api/v1/users/profile" if name == "product" else "/").raise_for_status()
                ready[name].append(server.ready_seconds)
                rss[name].append(server.rss_kib() / 1024)
            finally:
                server.stop()
    b.measurements["footprint"] = {"ready_s": ready, "rss_mib": rss}
    ratios = [p / h for p, h in zip(rss["product"], rss["hello"], strict=True)]
    start = [p / h for p, h in zip(ready["product"], ready["hello"], strict=True)]
    med = statistics.median
    return [
        Row(
            "footprint",
            "idle RSS after 200 requests, product vs bare hello",
            "ratio",
            med(ratios),
            min(ratios),
            max(ratios),
            target="<= 2",
            met=med(ratios) <= 2,
            note=f"{med(rss['product']):.0f} MiB vs {med(rss['hello']):.0f} MiB",
        ),
        Row(
            "footprint",
            "start to ready, product vs bare hello",
            "ratio",
            med(start),
            min(start),
            max(start),
            note=f"{med(ready['product']):.2f} s vs {med(ready['hello']):.2f} s (database already migrated)",
        ),
    ]


@scenario("cli_import_time")
def cli_import_time(b: Bench) -> list[Row]:
    """``asynccoder expire-holds`` under ``python -X importtime``: total import time and who spends it."""
    env = {**b.product_env("sqlite"), "PYTHONPATH": str(ROOT)}
    totals, walls = [], []
    packages: Counter[str] = Counter()
    for _ in range(b.rounds):
        started = time.monotonic()
        done = subprocess.run(
            pinned(
                SERVER_CPU,
                [sys.executable, "-X", "importtime", "-m", "asynccoder.entrypoints.cli", "expire-holds"],
            ),
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        walls.append(time.monotonic() - started)
        total = 0
        run_packages: Counter[str] = Counter()
        for line in done.stderr.splitlines():
            match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)", line)
            if match:
                total += int(match.group(1))
                run_packages[match.group(4).strip().split(".")[0]] += int(match.group(1))
        totals.append(total / 1e6)
        packages = run_packages
    top = ", ".join(f"{name} {us / 1e6:.2f} s" for name, us in packages.most_common(6))
    b.measurements["cli_import_time"] = {
        "import_s": totals,
        "wall_s": walls,
        "by_package_s": {k: v / 1e6 for k, v in packages.most_common(25)},
    }
    med = statistics.median(totals)
    return [
        Row(
            "cli_import_time",
            "`asynccoder expire-holds`: time spent importing",
            "s",
            med,
            min(totals),
            max(totals),
            target="<= 0.5 s",
            met=med <= 0.5,
            note=f"whole command {statistics.median(walls):.2f} s; by package: {top}",
        )
    ]


@scenario("profile")
def profile(b: Bench) -> list[Row]:
    """A py-spy profile of the product serving the authenticated list on PostgreSQL under wrk load."""
    import shutil

    world = b.world("postgres")
    py_spy = shutil.which("py-spy") or str(ROOT / ".venv" / "bin" / "py-spy")
    out = b.work_dir / "profile.txt"
    spy = subprocess.Popen(
        pinned(
            LOAD_CPU,
            [
                py_spy,
                "record",
                "--format",
                "raw",
                "--rate",
                "250",
                "--nonblocking",
                "-d",
                str(int(b.seconds * 3)),
                "-o",
                str(out),
                "-p",
                str(world.server.pid),
            ],
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    wrk(world.server.url, Load(LIST, headers=bearer(world.user_token)), b.seconds * 3, b.work_dir)
    _, err = spy.communicate(timeout=60)
    if spy.returncode != 0 or not out.exists():
        b.measurements["profile"] = {"error": err.decode()[-500:]}
        return [
            Row(
                "profile",
                "py-spy profile of the PostgreSQL list",
                "count",
                0,
                note="py-spy failed: " + err.decode()[-200:],
            )
        ]
    samples = 0
    share: Counter[str] = Counter()
    leaf: Counter[str] = Counter()
    for line in out.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        n = int(count)
        samples += n
        seen = set()
        for frame in stack.split(";"):
            for package in (
                "sqlalchemy",
                "psycopg",
                "dishka",
                "litestar",
                "structlog",
                "jwt",
                "msgspec",
                "asyncio",
                "uvloop",
                "uvicorn",
                "asynccoder",
                "logging",
            ):
                if re.search(rf"[(/]{package}/", frame):
                    seen.add(package)
        share.update(dict.fromkeys(seen, n))
        last = stack.split(";")[-1] if stack else "?"
        leaf[last.split(" (")[0]] += n
    b.measurements["profile"] = {
        "samples": samples,
        "share_of_samples": {k: v / samples for k, v in share.most_common()},
        "top_leaf_functions": {k: v / samples for k, v in leaf.most_common(15)},
    }
    note = ", ".join(f"{k} {v / samples:.0%}" for k, v in share.most_common(8))
    return [
        Row(
            "profile",
            "py-spy samples, authenticated list on PostgreSQL; share with a frame in",
            "count",
            samples,
            note=note,
        )
    ]


@scenario("sse_twin")
def sse_twin(b: Bench) -> list[Row]:
    """The floor the task-event streams will be compared with: RSS per idle stream of the raw ASGI SSE twin
    under uvicorn, and the cost of one fan-out to every stream."""
    import asyncio

    streams = 1000
    samples: list[float] = []
    fanout_ms: list[float] = []

    async def hold(server: Server) -> None:
        before = server.rss_kib()
        connections = []
        for _ in range(streams):
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(b"GET /events HTTP/1.1\r\nHost: bench\r\nAccept: text/event-stream\r\n\r\n")
            await reader.readuntil(b": open\n\n")
            connections.append((reader, writer))
        server.settle()
        samples.append((server.rss_kib() - before) / streams)
        async with httpx.AsyncClient(base_url=server.url) as client:
            for _ in range(5):
                started = time.monotonic()
                published = await client.post("/publish")
                await asyncio.gather(*(reader.readuntil(b"\n\n") for reader, _ in connections))
                fanout_ms.append((time.monotonic() - started) * 1000)
                assert published.json()["delivered"] == streams
        for _, writer in connections:
            writer.close()
        await asyncio.gather(*(writer.wait_closed() for _, writer in connections), return_exceptions=True)

    for _ in range(max(1, b.rounds // 2)):  # a fresh process each time: a warm heap reuses freed memory
        server = Server(uvicorn_app("twin-sse", "bench.twins.sse:create"), b.work_dir).start().wait_ready()
        try:
            asyncio.run(hold(server))
        finally:
            server.stop()
    b.measurements["sse_twin"] = {"kib_per_idle_stream": samples, "fanout_ms": fanout_ms}
    med = statistics.median
    return [
        Row(
            "sse_twin",
            f"raw ASGI SSE twin: RSS per idle stream ({streams} streams, KiB)",
            "count",
            med(samples),
            min(samples),
            max(samples),
            note="the reference for 'RSS per idle stream <= 1.5x' once task events land",
        ),
        Row(
            "sse_twin",
            f"raw ASGI SSE twin: one event to {streams} streams, all received (ms)",
            "ms",
            med(fanout_ms),
            min(fanout_ms),
            max(fanout_ms),
        ),
    ]


def granian_product(b: Bench) -> Server:
    """The product on SQLite (the ``sqlite`` world's database and secrets) under granian: ASGI, uvloop."""
    env = {**b.world("sqlite").env, "ASYNCCODER_AUTO_MIGRATE": "false"}
    argv = [sys.executable, "-m", "granian", "--interface", "asgi", "--factory", "--loop", "uvloop"]
    argv += ["--host", "127.0.0.1", "--port", "{port}", "--no-access-log", "--log-level", "warning"]
    argv += ["asynccoder.entrypoints.http.app:create_app_from_env"]
    return b.server(ServerSpec("product-granian", argv, env))


@scenario("servers")
def servers(b: Bench) -> list[Row]:
    """The production server choice: the product (SQLite) under granian vs under uvicorn with uvloop and
    httptools (``asynccoder serve``), one process each, on the bare health route and an authenticated read."""
    profile = authed("sqlite", "/api/v1/users/profile")
    variants = [
        Variant("uvicorn_health", product_on("sqlite"), lambda b: Load("/health/live")),
        Variant("granian_health", granian_product, lambda b: Load("/health/live")),
        Variant("uvicorn_profile", product_on("sqlite"), profile),
        Variant("granian_profile", granian_product, profile),
    ]
    ratios = [
        Ratio("GET /health/live: granian vs uvicorn+uvloop+httptools", "granian_health", "uvicorn_health"),
        Ratio("authenticated profile (SQLite): granian vs uvicorn", "granian_profile", "uvicorn_profile"),
    ]
    rows = b.interleave("servers", variants, ratios)
    b.release("product-granian")
    return rows
