"""Shared helpers for the identity end-to-end tests."""

from __future__ import annotations

import dataclasses
from typing import Any

from litestar.testing import AsyncTestClient

from asynccoder.ioc.settings import Settings

PASSWORD = "correct horse battery staple"


def cheap(settings: Settings, **overrides: Any) -> Settings:
    """Cheap argon2id parameters (the production ones are tested in tests/unit/test_passwords.py)."""
    return dataclasses.replace(settings, password_hash_memory_kib=64, password_hash_time_cost=1, **overrides)


async def register(client: AsyncTestClient[Any], email: str, password: str = PASSWORD) -> None:
    response = await client.post("/api/v1/auth/register", json={"email": email, "password": password})
    assert response.status_code == 202, response.text


async def login(client: AsyncTestClient[Any], email: str, password: str = PASSWORD) -> dict[str, Any]:
    response = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def signed_up(client: AsyncTestClient[Any], email: str) -> dict[str, str]:
    """Register and log in; returns the Authorization header."""
    await register(client, email)
    tokens = await login(client, email)
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
