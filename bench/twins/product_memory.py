"""The product itself with every repository on the in-memory adapters (no database), served like the product.

Run as ``python -m bench.twins.product_memory PORT``: ``uvicorn.run`` with the arguments ``asynccoder serve``
uses.
"""

from __future__ import annotations

import sys
from typing import Any

import uvicorn

from asynccoder.entrypoints.http.app import create_app
from asynccoder.ioc.core import InMemoryPersistenceProvider


def create() -> Any:
    return create_app(overrides=[InMemoryPersistenceProvider()])


if __name__ == "__main__":
    uvicorn.run(
        "bench.twins.product_memory:create",
        factory=True,
        host="127.0.0.1",
        port=int(sys.argv[1]),
        proxy_headers=False,
        server_header=False,
        log_config=None,
    )
