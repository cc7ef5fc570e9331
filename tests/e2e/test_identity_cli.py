"""The create-admin and rotate-keys commands."""

from __future__ import annotations

import asyncio
import base64
import io
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from asynccoder.adapters.crypto.secret_box import AesGcmSecretBox
from asynccoder.adapters.sqlalchemy.database import create_engine, create_sync_engine
from asynccoder.adapters.sqlalchemy.uow import SqlAlchemyUnitOfWork
from asynccoder.domain.code_hosting import (
    GitHubConnection,
    github_connection_context,
)
from asynccoder.domain.identity import User
from asynccoder.entrypoints import cli
from tests.support.builders import T0, make_user

CHEAP_HASH_ENV = {"PASSWORD_HASH_MEMORY_KIB": "64", "PASSWORD_HASH_TIME_COST": "1"}
OLD_KEY = b"\x11" * 32
NEW_KEY = b"\x22" * 32


def _b64(key: bytes) -> str:
    return base64.urlsafe_b64encode(key).decode()


def run_cli(*args: str, env: dict[str, str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "asynccoder.entrypoints.cli", *args],
        capture_output=True,
        text=True,
        input=stdin,
        env={**os.environ, **CHEAP_HASH_ENV, **env},
        timeout=60,
        check=False,
    )


def _env(tmp_path: Path) -> dict[str, str]:
    return {
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}",
        "ASYNCCODER_DATA_DIR": str(tmp_path),
    }


def _users(env: dict[str, str]) -> list[tuple[str, str, bool]]:
    engine = create_sync_engine(env["DATABASE_URL"])
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT email, role, password_hash IS NOT NULL FROM users")).all()
    finally:
        engine.dispose()
    return [(r[0], r[1], bool(r[2])) for r in rows]


def test_create_admin_creates_then_promotes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env = _env(tmp_path)
    created = run_cli(
        "create-admin",
        "--email",
        "Root@Example.com",
        "--password-stdin",
        env=env,
        stdin="correct horse battery\n",
    )
    assert created.returncode == 0, created.stderr
    assert "Created admin" in created.stdout
    assert "correct horse" not in created.stdout + created.stderr
    assert _users(env) == [("root@example.com", "admin", True)]

    code, out, err = _in_process(monkeypatch, capsys, env, "create-admin", "--email", "root@example.com")
    assert code == 0, err
    assert "Promoted admin" in out
    assert _users(env) == [("root@example.com", "admin", True)]


def _in_process(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    env: dict[str, str],
    *args: str,
    stdin: str = "",
) -> tuple[int, str, str]:
    """The same ``main`` the console script runs, without paying for a new interpreter."""
    for name, value in {**CHEAP_HASH_ENV, **env}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    monkeypatch.setattr(logging.getLogger(), "handlers", [])  # no handler bound to another test's stderr
    code = cli.main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_create_admin_refuses_a_weak_password_without_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _in_process(
        monkeypatch,
        capsys,
        _env(tmp_path),
        "create-admin",
        "--email",
        "root@example.com",
        "--password-stdin",
        stdin="short\n",
    )
    assert code == 2
    assert "weak_password" in err
    assert "Traceback" not in err


def test_rotate_keys_reencrypts_under_the_newest_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env = {**_env(tmp_path), "ENCRYPTION_KEYS": f"old:{_b64(OLD_KEY)}"}
    assert _in_process(monkeypatch, capsys, env, "migrate")[0] == 0
    user = make_user()
    asyncio.run(_seal_connection(env["DATABASE_URL"], user))

    code, out, err = _in_process(
        monkeypatch,
        capsys,
        {**env, "ENCRYPTION_KEYS": f"new:{_b64(NEW_KEY)},old:{_b64(OLD_KEY)}"},
        "rotate-keys",
    )
    assert code == 0, err
    assert "github_connections.sealed_token: rotated 1" in out

    stored = asyncio.run(_read_connection(env["DATABASE_URL"], user))
    assert stored is not None
    only_new = AesGcmSecretBox([("new", NEW_KEY)])
    assert (
        only_new.decrypt(stored.sealed_token, context=github_connection_context(user.id)) == "gho_rotate_me"
    )


async def _read_connection(url: str, user: User) -> GitHubConnection | None:
    engine = create_engine(url)
    try:
        async with SqlAlchemyUnitOfWork(engine) as uow:
            return await uow.github_connections.get(user.id)
    finally:
        await engine.dispose()


async def _seal_connection(url: str, user: User) -> None:
    old_box = AesGcmSecretBox([("old", OLD_KEY)])
    engine = create_engine(url)
    try:
        async with SqlAlchemyUnitOfWork(engine) as uow:
            await uow.users.add(user)
            await uow.github_connections.save(
                GitHubConnection(
                    user_id=user.id,
                    github_user_id=1,
                    login="octocat",
                    sealed_token=old_box.encrypt("gho_rotate_me", context=github_connection_context(user.id)),
                    scopes=("repo",),
                    created_at=T0,
                    updated_at=T0,
                )
            )
            await uow.commit()
    finally:
        await engine.dispose()


def test_create_admin_without_a_password_says_how_the_admin_can_sign_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env = _env(tmp_path)
    code, out, err = _in_process(monkeypatch, capsys, env, "create-admin", "--email", "ops@example.com")
    assert code == 0, err
    assert "Created admin" in out
    assert "This admin has no password" in out
    assert "only through Clerk, which is not configured here (CLERK_JWKS_URL and CLERK_ISSUER)" in out
    assert "asynccoder create-admin --email ops@example.com --password-stdin" in out
    assert _users(env) == [("ops@example.com", "admin", False)]

    code, out, err = _in_process(
        monkeypatch, capsys, env, "create-admin", "--email", "ops@example.com", "--password-stdin",
        stdin="correct horse battery\n",
    )  # fmt: skip
    assert code == 0, err
    assert "no password" not in out
    code, out, err = _in_process(monkeypatch, capsys, env, "create-admin", "--email", "ops@example.com")
    assert code == 0, err
    assert "Promoted admin" in out
    assert "no password" not in out, "promoting keeps the password set before"
    assert _users(env) == [("ops@example.com", "admin", True)]
