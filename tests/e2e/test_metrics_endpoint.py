"""``/metrics`` through the whole app: route templates as labels, the production token, the levels read at
scrape time, webhook outcomes."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient
from prometheus_client import REGISTRY

from asynccoder.entrypoints.http.app import create_app
from asynccoder.ioc.settings import Settings
from tests.e2e.conftest import ClientFactory
from tests.support.app import make_settings
from tests.support.live_server import free_port

METRICS_TOKEN = "mtk_" + "0123456789abcdefghijklmnopqrstuv"
TASK_ROUTE = "/api/v1/tasks/{task_id}"
DELIVERIES = "asynccoder_webhook_deliveries_total"


def _series(text: str, metric: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(metric + "{")]


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_a_thousand_distinct_ids_make_one_series_labelled_by_the_route_template(
    client_factory: ClientFactory,
) -> None:
    async with client_factory(make_settings()) as client:
        for n in range(1_000):
            response = await client.get(f"/api/v1/tasks/01890000-0000-7000-8000-{n:012d}")
            assert response.status_code == 401
        scrape = await client.get("/metrics")
    assert scrape.status_code == 200
    assert scrape.headers["content-type"].startswith("text/plain; version=")
    requests = [s for s in _series(scrape.text, "asynccoder_http_requests_total") if '"GET"' in s]
    # The registry is the process's: other tests may have added their own series, never one per id.
    paths = {match.group(1) for s in requests if (match := re.search(r'path="([^"]*)"', s))}
    assert TASK_ROUTE in paths
    assert not any("01890000" in path for path in paths)
    task_series = [s for s in requests if f'path="{TASK_ROUTE}"' in s and 'status_code="401"' in s]
    assert len(task_series) == 1, task_series
    assert float(task_series[0].rsplit(" ", 1)[1]) >= 1_000
    assert not re.search(r"01890000-0000-7000-8000", scrape.text)
    latency = _series(scrape.text, "asynccoder_http_request_duration_seconds_bucket")
    assert any(f'path="{TASK_ROUTE}"' in s for s in latency)


async def test_the_scrape_reads_the_queue_and_holds_levels(client: AsyncTestClient[Any]) -> None:
    scrape = await client.get("/metrics")
    for gauge in (
        "asynccoder_tasks_queued 0.0",
        "asynccoder_tasks_oldest_queued_age_seconds 0.0",
        "asynccoder_credit_holds_active 0.0",
        "asynccoder_credit_holds_active_credits 0.0",
    ):
        assert gauge in scrape.text.splitlines()


async def _get_metrics(settings: Settings, headers: dict[str, str] | None = None) -> int:
    async with AsyncTestClient(create_app(settings)) as client:
        return (await client.get("/metrics", headers=headers or {})).status_code


def _production(**overrides: Any) -> Settings:
    return make_settings(environment="production", **overrides)


async def test_in_production_without_a_token_there_is_no_metrics_route() -> None:
    assert await _get_metrics(_production()) == 404


async def test_in_production_the_metrics_token_is_required() -> None:
    settings = _production(metrics_token=METRICS_TOKEN)
    assert await _get_metrics(settings) == 401
    assert await _get_metrics(settings, {"Authorization": "Bearer " + METRICS_TOKEN[:-1] + "x"}) == 401
    assert await _get_metrics(settings, {"Authorization": f"Bearer {METRICS_TOKEN}"}) == 200


async def test_a_refused_answer_carries_www_authenticate_and_not_the_token() -> None:
    async with AsyncTestClient(create_app(_production(metrics_token=METRICS_TOKEN))) as client:
        response = await client.get("/metrics", headers={"Authorization": "Bearer wrong"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert METRICS_TOKEN not in response.text


async def test_in_development_metrics_are_open() -> None:
    assert await _get_metrics(make_settings(environment="development")) == 200


async def test_webhook_deliveries_with_bad_signatures_are_counted_as_rejected_by_source(
    client_factory: ClientFactory,
) -> None:
    stripe = {"source": "stripe", "outcome": "rejected"}
    github = {"source": "github", "outcome": "rejected"}
    before = (_sample(DELIVERIES, **stripe), _sample(DELIVERIES, **github))
    settings = make_settings(stripe_secret_key="sk_test_metrics", stripe_webhook_secret="whsec_metrics")
    async with client_factory(settings) as client:
        refused = await client.post(
            "/api/v1/webhooks/stripe", content=b"{}", headers={"Stripe-Signature": "t=1,v1=00"}
        )
        missing = await client.post("/api/v1/webhooks/github", content=b"{}")
    assert (refused.status_code, missing.status_code) == (400, 400)
    assert (_sample(DELIVERIES, **stripe), _sample(DELIVERIES, **github)) == (before[0] + 1, before[1] + 1)


@pytest.mark.slow
def test_a_worker_process_serves_its_own_metrics_on_the_worker_metrics_port(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "asynccoder.entrypoints.cli", "worker"],
        env={
            **os.environ,
            "ASYNCCODER_DATA_DIR": str(tmp_path / "data"),
            "LOG_LEVEL": "WARNING",
            "WORKER_METRICS_PORT": str(port),
        },
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline, text = time.monotonic() + 60, ""
        while time.monotonic() < deadline and "asynccoder_tasks_queued" not in text:
            assert process.poll() is None, f"worker exited with {process.returncode}"
            try:
                text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
            except httpx.HTTPError:
                time.sleep(0.1)
        assert "asynccoder_tasks_queued" in text  # the worker's collectors are in its registry
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
