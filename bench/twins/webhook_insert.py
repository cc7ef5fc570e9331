"""The floor for webhook ingest: Litestar reading the body and doing only the raw dedupe insert on psycopg."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar, Request, Response, get, post
from psycopg_pool import AsyncConnectionPool

from bench.twins.common import database_dsn

TABLE = """CREATE TABLE IF NOT EXISTS bench_webhook_deliveries (
    delivery_id text PRIMARY KEY, event text NOT NULL, received_at timestamptz NOT NULL DEFAULT now())"""
INSERT = (
    "INSERT INTO bench_webhook_deliveries (delivery_id, event) VALUES (%s, %s) "
    "ON CONFLICT (delivery_id) DO NOTHING RETURNING delivery_id"
)
pool = AsyncConnectionPool(database_dsn(), min_size=1, max_size=20, open=False)


@asynccontextmanager
async def lifespan(app: Litestar) -> AsyncIterator[None]:
    await pool.open(wait=True)
    async with pool.connection() as conn:
        await conn.execute(TABLE)
    try:
        yield
    finally:
        await pool.close()


@post("/api/v1/webhooks/github", status_code=200)
async def receive(request: Request[Any, Any, Any]) -> Response[dict[str, str]]:
    await request.body()
    delivery = request.headers.get("x-github-delivery", "")
    async with pool.connection() as conn:
        row = await (
            await conn.execute(INSERT, (delivery, request.headers.get("x-github-event", "")))
        ).fetchone()
    return Response({"status": "processed" if row else "duplicate", "detail": ""})


@get("/health/ready", sync_to_thread=False)
def ready() -> dict[str, str]:
    return {"status": "ok"}


def create() -> Litestar:
    return Litestar([receive, ready], lifespan=[lifespan], openapi_config=None, logging_config=None)
