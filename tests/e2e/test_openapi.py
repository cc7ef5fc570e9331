"""The OpenAPI document describes every operation properly."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
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


FORBIDDEN_PROPERTIES = {
    "password",
    "password_hash",
    "token_hash",
    "refresh_token_hash",
    "code_verifier",
    "sealed_key",
    "sealed_token",
    "sealed_secret",
    "api_key",
    "github_token",
    "access_token_encrypted",
    "webhook_secret",
}


def _response_schema_properties(document: dict[str, object]) -> set[str]:
    """Every property name reachable from any response schema of any operation."""
    components = document.get("components", {}).get("schemas", {})  # type: ignore[union-attr]
    seen: set[str] = set()
    names: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
                name = ref.rsplit("/", 1)[1]
                if name not in seen:
                    seen.add(name)
                    walk(components.get(name, {}))
            for key, value in node.items():
                if key == "properties" and isinstance(value, dict):
                    names.update(value)
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    for item in document["paths"].values():  # type: ignore[union-attr]
        for method, operation in item.items():
            if method in HTTP_METHODS:
                walk(operation.get("responses", {}))
    return names


async def test_no_response_schema_exposes_hashes_ciphertexts_or_stored_secrets(
    client: AsyncTestClient[Any],
) -> None:
    document = (await client.get("/schema/openapi.json")).json()
    properties = _response_schema_properties(document)
    # The walk reaches real response bodies (so an empty result cannot pass by accident).
    assert {"display_name", "available_credits", "last4", "full_name"} <= properties
    assert properties & FORBIDDEN_PROPERTIES == set()


@pytest.mark.parametrize("page", ["/schema", "/schema/swagger", "/schema/redoc"])
async def test_the_docs_pages_load_every_asset_from_this_server(
    client: AsyncTestClient[Any], page: str
) -> None:
    html = (await client.get(page)).text
    assert not re.findall(r"""(?:src|href)=["']?(?:https?:)?//""", html), "an asset from another origin"
    assets = re.findall(r"""(?:src|href)=["']?(/schema/assets/[^"' >]+)""", html)
    assert any(a.endswith(".js") for a in assets), html
    for asset in assets:
        response = await client.get(asset)
        assert response.status_code == 200, asset
        assert response.content, asset
        kind = "javascript" if asset.endswith(".js") else "css" if asset.endswith(".css") else "image"
        assert kind in response.headers["content-type"], asset


async def test_every_error_response_is_documented_as_problem_json_without_made_up_examples(
    client: AsyncTestClient[Any],
) -> None:
    text = (await client.get("/schema/openapi.json")).text
    assert '"examples"' not in text  # Litestar's generated examples are random strings such as "b17e570850"
    document = json.loads(text)
    errors = 0
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method not in HTTP_METHODS:
                continue
            for status, response in operation["responses"].items():
                if int(status) >= 400 and "content" in response:
                    errors += 1
                    assert set(response["content"]) == {"application/problem+json"}, (
                        f"{method} {path} {status}"
                    )
            if operation.get("parameters") or operation.get("requestBody"):
                assert "400" in operation["responses"], f"{method} {path} takes input but documents no 400"
    assert errors > 100


async def test_every_guarded_operation_documents_its_401_and_every_admin_operation_its_403(
    client: AsyncTestClient[Any],
) -> None:
    document = (await client.get("/schema/openapi.json")).json()
    guarded = 0
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method not in HTTP_METHODS or {"bearer": []} not in operation.get("security", []):
                continue
            guarded += 1
            assert "401" in operation["responses"], f"{method} {path}"
            if path.startswith("/api/v1/admin"):
                assert "403" in operation["responses"], f"{method} {path}"
    assert guarded > 50
