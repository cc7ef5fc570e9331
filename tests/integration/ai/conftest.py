"""Fixtures for the provider adapters: one HTTP client per test, closed afterwards (as the factory does)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx2
import pytest


@pytest.fixture
async def http_client() -> AsyncIterator[httpx2.AsyncClient]:
    client = httpx2.AsyncClient()
    yield client
    await client.aclose()
