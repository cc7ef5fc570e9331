"""``/metrics``: Prometheus' text exposition of this process (or of every process sharing
``PROMETHEUS_MULTIPROC_DIR``), HTTP metrics from Litestar's Prometheus middleware.

Open in development; in production mounted only when ``ASYNCCODER_METRICS_TOKEN`` is set, and then it asks for
``Authorization: Bearer <token>`` (in any environment where the token is set).
"""

from __future__ import annotations

import hmac
import os
from typing import Any

import structlog
from dishka.integrations.litestar import FromDishka, inject
from litestar import Controller, Response, get
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.plugins.prometheus import PrometheusConfig
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest, multiprocess

from asynccoder.application.health.operations import ObserveOperations
from asynccoder.domain.errors import Unauthenticated
from asynccoder.entrypoints.http.auth import PUBLIC, bearer_credential
from asynccoder.ioc.settings import Settings

METRICS_PATH = "/metrics"
log = structlog.get_logger("asynccoder.metrics")


def prometheus_config() -> PrometheusConfig:
    """HTTP requests by method, route template (``group_path``: ``/api/v1/tasks/{task_id:uuid}``, never the
    raw path, so ids cannot multiply the series) and status, with a latency histogram."""
    return PrometheusConfig(app_name="asynccoder", prefix="asynccoder_http", group_path=True)


async def require_metrics_token(
    connection: ASGIConnection[Any, Any, Any, Any], _handler: BaseRouteHandler
) -> None:
    """Guard: the ``ASYNCCODER_METRICS_TOKEN`` bearer, when one is configured."""
    settings: Settings = connection.app.state.settings
    expected = settings.metrics_token
    if expected is None:
        return
    presented = bearer_credential(connection.headers.get("authorization")) or ""
    if not hmac.compare_digest(presented.encode(), expected.encode()):
        raise Unauthenticated("Use 'Authorization: Bearer <metrics token>'.", code="invalid_token")


def _registry() -> CollectorRegistry:
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ or "prometheus_multiproc_dir" in os.environ:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return registry
    return REGISTRY


class MetricsController(Controller):
    """Public to the user guards: authorised by its own token (``require_metrics_token``)."""

    path = METRICS_PATH
    opt = PUBLIC
    guards = [require_metrics_token]
    include_in_schema = False

    @get()
    @inject
    async def scrape(self, observe: FromDishka[ObserveOperations]) -> Response[bytes]:
        """The current metrics; the queue and hold levels are read from the database for this scrape."""
        try:
            await observe()
        except Exception:  # the other metrics still matter (most of all) when the database is down
            log.warning("could not read the queue and hold levels", exc_info=True)
        return Response(generate_latest(_registry()), headers={"content-type": CONTENT_TYPE_LATEST})
