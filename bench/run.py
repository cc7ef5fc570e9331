"""``python -m bench [scenario ...]``: run scenarios, write bench/results/<timestamp>.json and latest.md."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import platform
import re
import subprocess
import tempfile
import time
import traceback
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import postgres as bench_postgres
from bench import scenarios as _registered  # noqa: F401  (registers the scenarios)
from bench.core import SCENARIOS, Bench, Row
from bench.harness import LOAD_CPU, ROOT, SERVER_CPU, ensure_wrk

RESULTS = ROOT / "bench" / "results"
# A maintenance database of an existing server: the run then creates and drops its own database there.
# Unset (the default), the run starts a private cluster (bench/postgres.py) when initdb is installed.
SHARED_POSTGRES = os.environ.get("ASYNCCODER_BENCH_POSTGRES_URL")
FALLBACK_POSTGRES = os.environ.get(
    "ASYNCCODER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def _admin(url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql)


def _pg_connections(url: str) -> str:
    """How much of the PostgreSQL server other work is using (``in use / max_connections``)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        used = conn.execute("SELECT count(*) FROM pg_stat_activity").fetchone()
        limit = conn.execute("SHOW max_connections").fetchone()
    return f"{used[0] if used else '?'} / {limit[0] if limit else '?'}"


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "-"


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("scenarios", nargs="*", help=f"some of: {', '.join(SCENARIOS)} (default: all)")
    parser.add_argument("--rounds", type=int, default=int(os.environ.get("BENCH_ROUNDS", "5")))
    parser.add_argument("--seconds", type=float, default=float(os.environ.get("BENCH_SECONDS", "3")))
    parser.add_argument("--warmup", type=float, default=2)
    args = parser.parse_args()
    chosen = args.scenarios or list(SCENARIOS)
    unknown = [name for name in chosen if name not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(unknown)}")
    ensure_wrk()

    with contextlib.ExitStack() as stack:
        if SHARED_POSTGRES:
            server, postgres = "the server named by ASYNCCODER_BENCH_POSTGRES_URL", SHARED_POSTGRES
        elif bench_postgres.available():
            server, postgres = (
                "a private cluster started for this run",
                stack.enter_context(bench_postgres.private_cluster()),
            )
        else:
            server, postgres = "the shared test server (no initdb found)", FALLBACK_POSTGRES
        postgres = postgres.replace("postgresql+psycopg://", "postgresql://")
        return _run(args, chosen, postgres, server)


def _run(args: argparse.Namespace, chosen: list[str], postgres: str, postgres_server: str) -> int:
    database = f"bench_{uuid.uuid4().hex[:10]}"
    _admin(postgres, f'CREATE DATABASE "{database}"')
    postgres_url = (
        postgres.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + f"/{database}"
    )
    load_before = os.getloadavg()
    pg_in_use = _pg_connections(postgres)
    started = time.monotonic()
    rows: list[Row] = []
    failures: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="asynccoder-bench-") as tmp:
        bench = Bench(
            Path(tmp), rounds=args.rounds, seconds=args.seconds, warmup=args.warmup, postgres_url=postgres_url
        )
        try:
            for name in chosen:
                print(f"== {name}", flush=True)
                began = time.monotonic()
                try:
                    rows += SCENARIOS[name](bench)
                except Exception as exc:  # one broken scenario must not hide the others' results
                    failures[name] = f"{type(exc).__name__}: {exc}"
                    traceback.print_exc()
                bench.measurements.setdefault("scenario_seconds", {})[name] = round(
                    time.monotonic() - began, 1
                )
        finally:
            bench.stop_all()
            logs = {p.name: _error_lines(p) for p in Path(tmp).glob("*.log")}
            _admin(postgres, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    load_after = os.getloadavg()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    meta: dict[str, Any] = {
        "timestamp": stamp,
        "commit": commit,
        "duration_s": round(time.monotonic() - started, 1),
        "load_average_before": load_before,
        "load_average_after": load_after,
        "postgres": postgres_server,
        "postgres_connections_in_use_before": pg_in_use,
        "cpus": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "python": platform.python_version(),
        "method": {
            "rounds": args.rounds,
            "seconds_per_run": args.seconds,
            "warmup_seconds": args.warmup,
            "server_cpu": SERVER_CPU,
            "load_cpu": LOAD_CPU,
            "closed_loop": "wrk -t1 -c64 on the load CPU, variants interleaved, order rotated per round",
            "open_loop": "bench/openloop.py (Python, uvloop) on the load CPU, latency from intended start",
            "server": "uvicorn, one process, uvloop + httptools when installed (auto), pinned with taskset",
        },
        "versions": {
            p: _version(p)
            for p in (
                "litestar",
                "uvicorn",
                "uvloop",
                "httptools",
                "sqlalchemy",
                "psycopg",
                "fastapi",
                "pydantic",
            )
        },
        "failures": failures,
        "server_error_lines": {name: lines for name, lines in logs.items() if lines},
    }
    document = {
        "meta": meta,
        "rows": [dataclasses.asdict(r) for r in rows],
        "measurements": bench.measurements,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{stamp}.json").write_text(json.dumps(document, indent=2, default=str) + "\n")
    (RESULTS / "latest.md").write_text(markdown(meta, rows, bench.measurements))
    print((RESULTS / "latest.md").read_text())
    return 1 if failures else 0


def _error_lines(log: Path) -> list[str]:
    """What went wrong in a server: counts of >= 400 answers per route and status from its request log,
    then its last few error lines."""
    text = log.read_text(errors="replace").splitlines()
    statuses: Counter[str] = Counter()
    for line in text:
        match = re.search(r'"method": "(\w+)", "path": "([^"]+)", "status": (\d+)', line)
        if match and int(match.group(3)) >= 400:
            path = re.sub(r"[0-9a-f]{8}-[0-9a-f-]{27}", "{id}", match.group(2))
            statuses[f"{match.group(1)} {path} -> {match.group(3)}"] += 1
    errors: Counter[str] = Counter()
    for line in text:
        if '"level": "error"' not in line and "Traceback" not in line:
            continue
        try:
            record = json.loads(line)
        except ValueError:
            errors[line[:300]] += 1
            continue
        cause = str(record.get("exception", "")).strip().splitlines()[-1:] or [""]
        if "client disconnected prematurely" in cause[0]:
            # wrk closing its connections at the end of each run, requests still in flight: logged as 500.
            cause = [cause[0] + " (wrk closing connections at the end of a run)"]
        errors[f"{record.get('event')}: {cause[0][:300]}"] += 1
    return [f"{count} x {what}" for what, count in (statuses + errors).most_common(12)]


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return ""
    if unit == "ratio":
        return f"{value:.2f}"
    if unit in ("req/s", "count"):
        return f"{value:.0f}"
    return f"{value:.2f}"


def markdown(meta: dict[str, Any], rows: list[Row], measurements: dict[str, Any]) -> str:
    before = " / ".join(f"{x:.2f}" for x in meta["load_average_before"])
    after = " / ".join(f"{x:.2f}" for x in meta["load_average_after"])
    method = meta["method"]
    lines = [
        "# Benchmark results (latest run)",
        "",
        f"Run {meta['timestamp']} on commit `{meta['commit']}`, {meta['cpus']} CPUs ({meta['cpu_model']}), "
        f"Python {meta['python']}, {meta['duration_s']:.0f} s. Load average before {before}, after {after} "
        f"(1 / 5 / 15 min). PostgreSQL: {meta['postgres']} ({meta['postgres_connections_in_use_before']} "
        "connections in use before the run).",
        "",
        f"Method: servers pinned to CPU {method['server_cpu']}, load on CPU {method['load_cpu']}; "
        f"{method['rounds']} interleaved rounds of {method['seconds_per_run']:.0f} s per variant after a "
        f"{method['warmup_seconds']:.0f} s warm-up; each ratio is computed inside a round, the table shows "
        "the median and min-max over rounds. Absolute req/s are for scale only: the machine is shared, "
        "so only ratios taken within one round mean anything. Full data: the JSON of the same timestamp; "
        "method: [bench/README.md](../README.md).",
        "",
        "| scenario | measurement | median | min-max | target | met | note |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        spread = f"{_fmt(row.low, row.unit)}-{_fmt(row.high, row.unit)}" if row.low is not None else ""
        met = "" if row.met is None else ("yes" if row.met else "**no**")
        cells = [row.scenario, row.label, _fmt(row.median, row.unit), spread, row.target, met, row.note]
        lines.append("| " + " | ".join(cells) + " |")
    if meta["failures"]:
        lines += ["", "## Scenarios that failed", ""]
        lines += [f"- `{name}`: {error}" for name, error in meta["failures"].items()]
    profile = measurements.get("profile", {})
    if profile.get("top_leaf_functions"):
        lines += [
            "",
            "## Profile: authenticated repositories list on PostgreSQL (py-spy, leaf functions)",
            "",
        ]
        lines += ["| function | share of samples |", "|---|---|"]
        lines += [f"| `{k}` | {v:.1%} |" for k, v in list(profile["top_leaf_functions"].items())[:12]]
        lines += [
            "",
            "Share of samples with at least one frame in a package: "
            + ", ".join(f"{k} {v:.0%}" for k, v in profile["share_of_samples"].items()),
        ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
