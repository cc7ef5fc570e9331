"""Seed data through the product's own HTTP API, CLI and use cases (no hand-written SQL)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench.harness import ROOT

PASSWORD = "bench-password-0123456789"
REPOSITORIES = 20


def make_git_repositories(root: Path, count: int = REPOSITORIES) -> list[str]:
    """``count`` local git repositories for the development code host; returns their ``owner/name``."""
    names = []
    for i in range(count):
        name = f"bench/repo-{i:02d}"
        path = root / name
        if not (path / ".git").exists():
            path.mkdir(parents=True, exist_ok=True)
            git = ["git", "-C", str(path), "-c", "user.name=bench", "-c", "user.email=bench@example.com"]
            subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
            (path / "README.md").write_text(f"# {name}\n")
            subprocess.run([*git, "add", "README.md"], check=True)
            subprocess.run([*git, "commit", "-q", "-m", "init"], check=True)
        names.append(name)
    return names


def register_and_login(client: httpx.Client, email: str) -> str:
    """A new account through the public API; returns its bearer token."""
    registered = client.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD})
    assert registered.status_code == 202, registered.text
    return login(client, email)


def login(client: httpx.Client, email: str) -> str:
    response = client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def connect_repositories(client: httpx.Client, token: str, names: list[str]) -> None:
    for name in names:
        response = client.post(
            "/api/v1/repositories", json={"full_name": name}, headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 201, response.text


def create_admin(env: dict[str, str], email: str) -> None:
    """``asynccoder create-admin`` as an operator runs it."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "asynccoder.entrypoints.cli",
            "create-admin",
            "--email",
            email,
            "--password-stdin",
        ],
        input=PASSWORD + "\n",
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        cwd=ROOT,
        check=True,
        capture_output=True,
    )


def in_container(
    env: dict[str, str], work: Callable[[Any], Awaitable[Any]], *, app_scope: bool = False
) -> Any:
    """Run ``work(container)`` on the product's own container built from the server's env: a REQUEST-scope
    container, or with ``app_scope`` the APP container itself (``work`` then opens its own requests)."""
    from dishka import Scope

    from asynccoder.ioc.core import make_container
    from asynccoder.ioc.settings import load_settings

    settings = load_settings({**os.environ, **env})

    async def run() -> Any:
        container = make_container(settings)
        try:
            if app_scope:
                return await work(container)
            async with container(scope=Scope.REQUEST) as request:
                return await work(request)
        finally:
            await container.close()

    return asyncio.run(run())


def add_users_with_credits(env: dict[str, str], count: int, credits: int) -> list[uuid.UUID]:
    """``count`` active users (through the users repository) each granted ``credits`` by ``GrantCredits``."""
    from asynccoder.application.billing.credits import GrantCredits, GrantCreditsInput
    from asynccoder.application.ports.uow import UnitOfWork
    from asynccoder.domain.identity import Role, User, UserStatus

    now = datetime.now(UTC)
    users = [
        User(
            id=uuid.uuid4(),
            email=f"spender-{uuid.uuid4().hex[:12]}@example.com",
            display_name="Bench spender",
            role=Role.USER,
            status=UserStatus.ACTIVE,
            created_at=now,
            updated_at=now,
        )
        for _ in range(count)
    ]

    async def work(container: Any) -> None:
        async with container() as request:
            uow = await request.get(UnitOfWork)
            async with uow:
                for user in users:
                    await uow.users.add(user)
                await uow.commit()
        gate = asyncio.Semaphore(8)

        async def grant(user: User) -> None:
            async with gate, container() as request:
                use_case = await request.get(GrantCredits)
                await use_case(GrantCreditsInput(user.id, credits, f"bench-seed-{user.id}"))

        await asyncio.gather(*(grant(user) for user in users))

    in_container(env, work, app_scope=True)
    return [user.id for user in users]
