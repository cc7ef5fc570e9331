"""Developer sessions that run exactly what CI (`.ci/run`) runs, with the same environment.

`nox` runs lint, types, arch and tests on the locked versions (`constraints.txt`); `nox -s lock`
refreshes the lock to the newest versions `pyproject.toml` allows and runs everything on them, so an upgrade
is a deliberate, tested step.
"""

from __future__ import annotations

import os
import shlex
import shutil
from pathlib import Path

import nox

ROOT = Path(__file__).parent
LOCK = ROOT / "constraints.txt"
LOCK_HEADER = (
    "# The lock: every direct and transitive dependency at the version the whole suite last passed with.\n"
    "# Both README command lines install with '-c constraints.txt'. Refresh deliberately with 'nox -s lock'\n"
    "# (newest versions pyproject.toml allows, then the whole suite); never edit by hand.\n"
)

nox.options.sessions = ["lint", "types", "arch", "tests"]
nox.options.reuse_existing_virtualenvs = True


def _lines(name: str) -> list[str]:
    text = (ROOT / ".ci" / name).read_text()
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def ci_env() -> dict[str, str]:
    """The environment of a CI run (`.ci/env`): services required, the same database URLs."""
    return dict(line.split("=", 1) for line in _lines("env"))


def _checks(tool: str) -> list[list[str]]:
    """The static checks of `.ci/checks` that use ``tool``."""
    return [shlex.split(line) for line in _lines("checks") if shlex.split(line)[0] == tool]


def _install_locked(session: nox.Session) -> None:
    session.install("-c", str(LOCK), "-e", ".[test]")


@nox.session
def tests(session: nox.Session) -> None:
    """The whole suite (unit, contract, integration, e2e) as CI runs it: PostgreSQL and Redis required."""
    _install_locked(session)
    session.run("pytest", *session.posargs, env=ci_env())


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check, as in `.ci/checks`."""
    _install_locked(session)
    for check in _checks("ruff"):
        session.run(*check, env=ci_env())


@nox.session
def types(session: nox.Session) -> None:
    """mypy over every file of the package (strict), as in `.ci/checks`."""
    _install_locked(session)
    for check in _checks("mypy"):
        session.run(*check, env=ci_env())


@nox.session
def arch(session: nox.Session) -> None:
    """import-linter: layers, a stdlib-only domain, independent adapters."""
    _install_locked(session)
    for check in _checks("lint-imports"):
        session.run(*check, env=ci_env())


@nox.session
def bench(session: nox.Session) -> None:
    """The benchmark harness (bench/README.md): every scenario, ratios into bench/results/. Under 15 minutes.

    Installs the locked project plus the ``bench`` extra, and wrk from Debian if it is missing.
    ``nox -s bench -- request_path webhooks`` runs only those scenarios.
    """
    session.install("-c", str(LOCK), "-e", ".[bench]")
    if shutil.which("wrk") is None:
        sudo = [] if os.geteuid() == 0 else ["sudo"]
        session.run(*sudo, "apt-get", "install", "-y", "wrk", external=True)
    session.run("python", "-m", "bench", *session.posargs)


@nox.session(reuse_venv=False)
def lock(session: nox.Session) -> None:
    """Refresh `constraints.txt` to the newest allowed versions, then run every check and the whole suite."""
    session.install("--upgrade", "--upgrade-strategy", "eager", "-e", ".[test,bench]")
    frozen = session.run("pip", "freeze", "--exclude-editable", silent=True, external=False)
    assert isinstance(frozen, str)
    pins = sorted((line for line in frozen.splitlines() if line and not line.startswith("#")), key=str.lower)
    LOCK.write_text(LOCK_HEADER + "\n".join(pins) + "\n")
    session.log(f"wrote {len(pins)} pins to {LOCK.name}; running the suite on them")
    for tool in ("ruff", "mypy", "lint-imports"):
        for check in _checks(tool):
            session.run(*check, env=ci_env())
    session.run("pytest", env=ci_env())
