"""The repositories list in Litestar on a raw psycopg pool: one checkout, two statements, msgspec out."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime

import msgspec
from litestar import Litestar, Request, Response, get
from psycopg_pool import AsyncConnectionPool

from bench.twins.common import LIST_SQL, PAGE, USER_SQL, Unauthorized, database_dsn, user_id_from


class SettingsOut(msgspec.Struct):
    auto_review: bool
    default_model_id: uuid.UUID | None
    default_base_branch: str | None
    test_command: str | None


class RepositoryOut(msgspec.Struct):
    id: uuid.UUID
    host: str
    full_name: str
    default_branch: str
    visibility: str
    html_url: str
    permission: str
    webhook_active: bool
    settings: SettingsOut
    head_sha: str | None
    last_pushed_at: datetime | None
    created_at: datetime
    updated_at: datetime


class ListOut(msgspec.Struct, tag_field="source", tag="connected"):
    items: list[RepositoryOut]
    next_cursor: str | None


pool = AsyncConnectionPool(database_dsn(), min_size=1, max_size=20, open=False)


@asynccontextmanager
async def lifespan(app: Litestar) -> AsyncIterator[None]:
    await pool.open(wait=True)
    try:
        yield
    finally:
        await pool.close()


@get("/api/v1/repositories")
async def list_repositories(
    request: Request[None, None, None],
) -> Response[ListOut] | Response[dict[str, str]]:
    try:
        user_id = user_id_from(request.headers.get("authorization"))
    except Unauthorized:
        return Response({"code": "invalid_token"}, status_code=401)
    async with pool.connection() as conn:
        await conn.set_autocommit(True)
        user = await (await conn.execute(USER_SQL, (user_id,))).fetchone()
        if user is None or user[2] != "active":
            return Response({"code": "invalid_token"}, status_code=401)
        rows = await (await conn.execute(LIST_SQL, (user_id, PAGE + 1))).fetchall()
    more = len(rows) > PAGE
    rows = rows[:PAGE]
    items = [
        RepositoryOut(
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            r[5],
            r[13],
            bool(r[14]),
            SettingsOut(r[6], r[7], r[8], r[15]),
            r[9],
            r[10],
            r[11],
            r[12],
        )
        for r in rows
    ]
    return Response(ListOut(items, str(rows[-1][0]) if more and rows else None))


@get("/health/ready", sync_to_thread=False)
def ready() -> dict[str, str]:
    return {"status": "ok"}


def create() -> Litestar:
    return Litestar([list_repositories, ready], lifespan=[lifespan], openapi_config=None, logging_config=None)
