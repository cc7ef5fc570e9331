"""The OpenAPI document describes every operation properly."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient

HTTP_METHODS = {"get", "put", "post", "delete", "patch"}


async def test_the_openapi_document_is_served_as_openapi_3_1(client: AsyncTestClient[Any]) -> None:
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    assert response.json()["openapi"].startswith("3.1")


async def test_the_interactive_docs_page_is_served(client: AsyncTestClient[Any]) -> None:
    response = await client.get("/schema")
    assert response.status_code == 200
    assert "text/html" in response.headers["content-type"]


async def test_every_operation_has_an_id_a_summary_and_tags(client: AsyncTestClient[Any]) -> None:
    document = (await client.get("/schema/openapi.json")).json()
    seen: set[str] = set()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method not in HTTP_METHODS:
                continue
            where = f"{method.upper()} {path}"
            assert operation.get("operationId"), where
            assert operation["operationId"] not in seen, where
            seen.add(operation["operationId"])
            assert operation.get("summary"), where
            assert operation.get("tags"), where
