"""Tracing (OTLP/HTTP) and error tracking (Sentry) from a real server process, against local collectors:
spans by route template down to SQL, errors with their exception, and no canary secret in either."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.collectors import OtlpCollector, SentryCollector, attributes
from tests.support.live_server import free_port

ROOT = Path(__file__).resolve().parents[2]
KEY_CANARY = "sk-ant-canary-0c1d2e3f4a5b"
TOKEN_CANARY = "acp_canarytoken9f8e7d6c5b4a"
BODY_CANARY = "body-canary-77aa"
QUERY_CANARY = "query-canary-3b3b"
EMAIL_CANARY = "email-canary-5e5e@example.com"
PASSWORD_CANARY = "password-canary-6f6f-long-enough"
CANARIES = (KEY_CANARY, TOKEN_CANARY, BODY_CANARY, QUERY_CANARY, EMAIL_CANARY, PASSWORD_CANARY)


@pytest.fixture
def otlp() -> Iterator[OtlpCollector]:
    collector = OtlpCollector()
    yield collector
    collector.close()


@pytest.fixture
def sentry() -> Iterator[SentryCollector]:
    collector = SentryCollector()
    yield collector
    collector.close()


def _serve(tmp_path: Path, env: dict[str, str]) -> tuple[str, subprocess.Popen[bytes]]:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "tests.support.observability_app:create_canary_app",
            "--port",
            str(port),
            "--no-access-log",
        ],
        env={
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "ASYNCCODER_DATA_DIR": str(tmp_path / "data"),
            "ASYNCCODER_ENV": "development",
            "LOG_LEVEL": "WARNING",
            **env,
        },
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, f"server exited with {process.returncode}"
        try:
            if httpx.get(f"{url}/health/ready", timeout=2).status_code == 200:
                return url, process
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    process.kill()
    raise AssertionError("server not ready")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)  # the lifespan's shutdown flushes both exporters
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise


def _push_canaries_through_error_paths(url: str) -> None:
    failure = httpx.post(
        f"{url}/api/v1/canary-failure?state={QUERY_CANARY}",
        json={"api_key": KEY_CANARY, "note": BODY_CANARY},
        headers={"Authorization": f"Bearer {TOKEN_CANARY}", "Cookie": f"session={TOKEN_CANARY}"},
        timeout=10,
    )
    assert failure.status_code == 500
    login = httpx.post(
        f"{url}/api/v1/auth/login?code={QUERY_CANARY}",
        json={"email": EMAIL_CANARY, "password": PASSWORD_CANARY},
        timeout=10,
    )
    assert login.status_code == 401
    refused = httpx.get(f"{url}/api/v1/tasks", headers={"Authorization": f"Bearer {TOKEN_CANARY}"})
    assert refused.status_code == 401


@pytest.mark.slow
def test_traces_reach_the_collector_by_route_template_down_to_sql_without_secrets(
    tmp_path: Path, otlp: OtlpCollector
) -> None:
    url, process = _serve(tmp_path, {"OTLP_ENDPOINT": otlp.endpoint, "OTEL_SERVICE_NAME": "asynccoder-test"})
    try:
        _push_canaries_through_error_paths(url)
    finally:
        _stop(process)
    spans = otlp.spans()
    by_name = {span.name: span for span in spans}
    assert "POST /api/v1/canary-failure" in by_name
    login = by_name["POST /api/v1/auth/login"]
    use_case = by_name["LogIn"]
    assert (use_case.trace_id, use_case.parent_span_id) == (login.trace_id, login.span_id)
    assert attributes(use_case) == {"asynccoder.use_case": "LogIn", "error.type": "Unauthenticated"}
    assert use_case.status.code != use_case.status.STATUS_CODE_ERROR, "a 401 is an outcome, not a failure"
    sql = [s for s in spans if "db.statement" in attributes(s) and s.trace_id == login.trace_id]
    assert sql, "the login's SQL is traced under its HTTP span"
    assert any("FROM users" in attributes(s)["db.statement"] for s in sql)
    assert all(s.parent_span_id == use_case.span_id for s in sql), "HTTP -> use case -> SQL"
    statements = [s for s in spans if "db.statement" in attributes(s)]
    assert all(s.parent_span_id for s in statements), "no trace starts at a lone statement (idle polling)"
    use_cases = [s for s in spans if "asynccoder.use_case" in attributes(s)]
    assert all(s.parent_span_id for s in use_cases), "no trace starts at a polled use case (DeliverWebhooks)"
    assert {attributes(s)["http.route"] for s in spans if "http.route" in attributes(s)} >= {
        "/api/v1/canary-failure",
        "/api/v1/auth/login",
    }
    raw = otlp.raw()
    assert b"asynccoder-test" in raw
    for canary in CANARIES:
        assert canary.encode() not in raw, canary


@pytest.mark.slow
def test_errors_reach_the_tracker_with_their_exception_and_without_secrets(
    tmp_path: Path, sentry: SentryCollector
) -> None:
    url, process = _serve(tmp_path, {"SENTRY_DSN": sentry.dsn})
    try:
        _push_canaries_through_error_paths(url)
    finally:
        _stop(process)
    raw = sentry.raw()
    assert b"RuntimeError" in raw
    assert b"the provider refused the call" in raw
    events = [item for item in sentry.items() if item.get("exception")]
    assert events, "the unhandled error is an event with its exception"
    for event in events:
        for exception in event["exception"]["values"]:
            for frame in (exception.get("stacktrace") or {}).get("frames", []):
                assert "vars" not in frame
        assert "data" not in event.get("request", {})
    for canary in CANARIES:
        assert canary.encode() not in raw, canary


@pytest.mark.slow
def test_with_neither_configured_the_libraries_are_never_imported() -> None:
    # (Litestar imports its OpenTelemetry plugin whenever the API is installed, redis-py the SDK's metrics;
    # the tracing SDK, the exporter, the SQL and httpx instrumentations and Sentry are ours to keep out.)
    ours = (
        "sentry_sdk",
        "opentelemetry.sdk.trace",
        "opentelemetry.exporter",
        "opentelemetry.instrumentation.sqlalchemy",
        "opentelemetry.instrumentation.httpx",
    )
    probe = (
        "import sys\n"
        "from asynccoder.entrypoints.http.app import create_app\n"
        "from tests.support.app import make_settings\n"
        "create_app(make_settings())\n"
        f"print(','.join(m for m in {ours!r} if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout.strip() == ""
