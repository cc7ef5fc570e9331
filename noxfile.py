"""Developer and CI sessions: tests, lint, types, architecture."""

from __future__ import annotations

import nox

nox.options.sessions = ["lint", "types", "arch", "tests"]
nox.options.reuse_existing_virtualenvs = True


@nox.session
def tests(session: nox.Session) -> None:
    """The whole suite: unit, contract, integration, e2e."""
    session.install("-e", ".[test]")
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff")
    session.run("ruff", "check", "src", "tests", "noxfile.py")
    session.run("ruff", "format", "--check", "src", "tests", "noxfile.py")


@nox.session
def types(session: nox.Session) -> None:
    """mypy strict on the domain and application layers."""
    session.install("-e", ".[test]")
    session.run("mypy")


@nox.session
def arch(session: nox.Session) -> None:
    """import-linter: layers, a stdlib-only domain, independent adapters."""
    session.install("-e", ".[test]")
    session.run("lint-imports")
