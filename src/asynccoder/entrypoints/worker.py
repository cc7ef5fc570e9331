"""``asynccoder worker``: a task worker process (any number of them, on any number of machines), and the
embedded worker ``asynccoder serve`` starts inside the API process."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator

import structlog
from dishka import AsyncContainer

from asynccoder import __version__
from asynccoder.entrypoints.observability import (
    configure_error_tracking,
    configure_tracing,
    flush_error_tracking,
    flush_tracing,
)
from asynccoder.ioc.core import make_container
from asynccoder.ioc.settings import Settings
from asynccoder.ioc.tasks import WorkerLoop, make_worker_loop
from asynccoder.ioc.webhook_endpoints import make_webhook_delivery_loop

log = structlog.get_logger("asynccoder.worker")


async def run_worker(settings: Settings) -> None:
    """Run until SIGTERM or SIGINT, then shut down gracefully (running tasks are handed back)."""
    configure_tracing(settings)
    configure_error_tracking(settings, release=__version__)
    if settings.worker_metrics_port is not None:
        from prometheus_client import start_http_server

        start_http_server(settings.worker_metrics_port, addr=settings.worker_metrics_host)
    container = make_container(settings)
    try:
        worker = await make_worker_loop(container, settings)
        webhooks = make_webhook_delivery_loop(container, worker.config.worker_id)
        loop = asyncio.get_running_loop()

        def stop() -> None:
            worker.stop()
            webhooks.stop()

        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop)
        log.info("worker started", worker_id=worker.config.worker_id, concurrency=worker.config.concurrency)
        await asyncio.gather(worker.run(), webhooks.run())
        log.info("worker stopped", worker_id=worker.config.worker_id)
    finally:
        await container.close()
        flush_tracing()
        flush_error_tracking()


@contextlib.asynccontextmanager
async def embedded_worker(container: AsyncContainer, settings: Settings) -> AsyncIterator[WorkerLoop | None]:
    """A worker running beside the API for as long as the block lasts (when the settings ask for one)."""
    if not settings.runs_embedded_worker:
        yield None
        return
    worker = await make_worker_loop(container, settings)
    webhooks = make_webhook_delivery_loop(container, worker.config.worker_id)
    job = asyncio.ensure_future(asyncio.gather(worker.run(), webhooks.run()))
    log.info("embedded worker started", worker_id=worker.config.worker_id)
    try:
        yield worker
    finally:
        worker.stop()
        webhooks.stop()
        await job
