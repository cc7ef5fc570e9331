"""The asynccoder command line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from asynccoder import __version__
from asynccoder.adapters.sqlalchemy.database import create_sync_engine


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "asynccoder.entrypoints.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=60,
        check=False,
    )


def test_version_prints_the_package_version() -> None:
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"asynccoder {__version__}"


def test_migrate_brings_an_empty_sqlite_file_to_head_and_back(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    env = {"DATABASE_URL": url, "ASYNCCODER_DATA_DIR": str(tmp_path)}

    up = run_cli("migrate", env=env)
    assert up.returncode == 0, up.stderr
    engine = create_sync_engine(url)
    assert "users" in sa.inspect(engine).get_table_names()
    engine.dispose()

    down = run_cli("migrate", "--downgrade-to-base", env=env)
    assert down.returncode == 0, down.stderr
    engine = create_sync_engine(url)
    assert "users" not in sa.inspect(engine).get_table_names()
    engine.dispose()


def test_bad_configuration_exits_with_one_line_per_problem(tmp_path: Path) -> None:
    result = run_cli("migrate", env={"DATABASE_URL": "mysql://x", "LOG_LEVEL": "LOUD"})
    assert result.returncode == 2
    assert "DATABASE_URL" in result.stderr
    assert "LOG_LEVEL" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("command", "option"), [("rotate-keys", "--batch-size=0"), ("expire-holds", "--limit=-1")]
)
def test_a_batch_or_limit_below_one_is_refused_with_a_clear_error(
    tmp_path: Path, command: str, option: str
) -> None:
    result = run_cli(command, option, env={"ASYNCCODER_DATA_DIR": str(tmp_path)})
    assert result.returncode == 2
    assert "must be at least 1" in result.stderr
    assert option.split("=")[0] in result.stderr


def test_the_cli_reads_dot_env_from_its_directory_and_the_real_environment_wins(tmp_path: Path) -> None:
    """``.env.example`` copied to ``.env`` as it is, plus one line: the command uses it; a variable set in
    the environment beats the file."""
    example = (Path(__file__).resolve().parents[2] / ".env.example").read_text()
    from_file, from_env = tmp_path / "from-file.db", tmp_path / "from-env.db"
    (tmp_path / ".env").write_text(example + f"\nDATABASE_URL=sqlite+aiosqlite:///{from_file}\n")
    inherited = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "ASYNCCODER_DATA_DIR"}}

    def migrate(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "asynccoder.entrypoints.cli", "migrate"],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env={**inherited, **env},
            timeout=60,
            check=False,
        )

    read = migrate({})
    assert read.returncode == 0, read.stderr
    assert from_file.exists()
    assert (tmp_path / "data").is_dir(), "ASYNCCODER_DATA_DIR=data from the file, relative to the directory"
    from_file.unlink()
    overridden = migrate({"DATABASE_URL": f"sqlite+aiosqlite:///{from_env}"})
    assert overridden.returncode == 0, overridden.stderr
    assert from_env.exists()
    assert not from_file.exists()


def test_serve_hands_the_server_limits_from_the_settings_to_uvicorn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    from asynccoder.entrypoints import cli
    from asynccoder.entrypoints.http.server import BoundedHeadProtocol

    calls: list[dict[str, object]] = []
    monkeypatch.setattr(uvicorn, "run", lambda *_, **kwargs: calls.append(kwargs))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ASYNCCODER_DATA_DIR", str(tmp_path))
    assert cli.main(["serve"]) == 0
    for name, value in {
        "SERVER_KEEP_ALIVE_TIMEOUT_SECONDS": "7",
        "SERVER_LIMIT_CONCURRENCY": "64",
        "SERVER_BACKLOG": "128",
        "SERVER_MAX_HEADER_BYTES": "8192",
        "SERVER_GRACEFUL_TIMEOUT_SECONDS": "12",
    }.items():
        monkeypatch.setenv(name, value)
    assert cli.main(["serve"]) == 0
    limits = ("timeout_keep_alive", "limit_concurrency", "backlog", "h11_max_incomplete_event_size")
    defaults, configured = ({k: c[k] for k in (*limits, "timeout_graceful_shutdown", "http")} for c in calls)
    assert defaults == {
        "timeout_keep_alive": 5,
        "limit_concurrency": 1000,
        "backlog": 2048,
        "h11_max_incomplete_event_size": 16384,
        "timeout_graceful_shutdown": 30,
        "http": BoundedHeadProtocol,
    }
    assert configured == {
        "timeout_keep_alive": 7,
        "limit_concurrency": 64,
        "backlog": 128,
        "h11_max_incomplete_event_size": 8192,
        "timeout_graceful_shutdown": 12,
        "http": BoundedHeadProtocol,
    }


def test_a_server_limit_below_one_is_refused(tmp_path: Path) -> None:
    result = run_cli("serve", env={"ASYNCCODER_DATA_DIR": str(tmp_path), "SERVER_LIMIT_CONCURRENCY": "0"})
    assert result.returncode == 2
    assert "SERVER_LIMIT_CONCURRENCY must be greater than zero" in result.stderr
