"""The reference: a bare Litestar app answering a small JSON body, nothing else."""

from __future__ import annotations

from litestar import Litestar, get


@get("/", sync_to_thread=False)
def hello() -> dict[str, str]:
    return {"hello": "world"}


@get("/health/ready", sync_to_thread=False)
def ready() -> dict[str, str]:
    return {"status": "ok"}


def create() -> Litestar:
    return Litestar([hello, ready], openapi_config=None, logging_config=None)
