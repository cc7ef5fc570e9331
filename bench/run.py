"""``python -m bench [scenario ...]``: run the scenarios, write bench/results/<timestamp>.json and latest.md."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import subprocess
import tempfile
import time
import traceback
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import scenarios as _registered  # noqa: F401  (registers the scenarios)
from bench.core import SCENARIOS, Bench, Row
from bench.harness import LOAD_CPU, ROOT, SERVER_CPU, ensure_wrk

RESULTS = ROOT / "bench" / "results"
# A maintenance database on the server the suite uses; the run creates and drops its own database there.
POSTGRES = os.environ.get(
    "ASYNCCODER_BENCH_POSTGRES_URL",
    os.environ.get("ASYNCCODER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
).replace("postgresql+psycopg://", "postgresql://")


def _admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(POSTGRES, autocommit=True) as conn:
        conn.execute(sql)


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

    database = f"bench_{uuid.uuid4().hex[:10]}"
    _admin(f'CREATE DATABASE "{database}"')
    postgres_url = (
        POSTGRES.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + f"/{database}"
    )
    load_before = os.getloadavg()
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
            logs = {p.name: p.read_text()[-2000:] for p in Path(tmp).glob("*.log") if p.stat().st_size}
            _admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
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
        "server_logs_tail": logs if failures else {},
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
    lines = [
        "# Benchmark results (latest run)",
        "",
        f"Run {meta['timestamp']} on commit `{meta['commit']}`, {meta['cpus']} CPUs ({meta['cpu_model']}), Python "
        f"{meta['python']}, {meta['duration_s']:.0f} s. Load average before "
        f"{' / '.join(f'{x:.2f}' for x in meta['load_average_before'])}, after "
        f"{' / '.join(f'{x:.2f}' for x in meta['load_average_after'])} (1 / 5 / 15 min).",
        "",
        f"Method: servers pinned to CPU {meta['method']['server_cpu']}, load on CPU {meta['method']['load_cpu']}; "
        f"{meta['method']['rounds']} interleaved rounds of {meta['method']['seconds_per_run']:.0f} s per variant "
        f"after a {meta['method']['warmup_seconds']:.0f} s warm-up; a ratio is computed inside each round, the table "
        "shows the median and the min-max over rounds. Absolute req/s are for scale only: the machine is shared, "
        "so only ratios taken within one round mean anything. Full data: the JSON of the same timestamp.",
        "",
        "| scenario | measurement | median | min-max | target | met | note |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        spread = f"{_fmt(row.low, row.unit)}-{_fmt(row.high, row.unit)}" if row.low is not None else ""
        met = "" if row.met is None else ("yes" if row.met else "**no**")
        lines.append(
            f"| {row.scenario} | {row.label} | {_fmt(row.median, row.unit)} | {spread} | {row.target} | {met} | {row.note} |"
        )
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
