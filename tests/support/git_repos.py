"""Real git repositories on disk for tests (the seed side, run with a clean environment)."""

from __future__ import annotations

import subprocess
from pathlib import Path


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(
        ["git", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
        env={
            "PATH": "/usr/bin:/bin:/usr/local/bin",
            "HOME": str(cwd),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_AUTHOR_NAME": "Seed",
            "GIT_AUTHOR_EMAIL": "seed@example.com",
            "GIT_COMMITTER_NAME": "Seed",
            "GIT_COMMITTER_EMAIL": "seed@example.com",
        },
    ).stdout


def make_repo(root: Path, full_name: str, *, feature: bool = True) -> Path:
    path = root / full_name
    path.mkdir(parents=True)
    git("init", "--initial-branch=main", str(path), cwd=root)
    (path / "app.py").write_text("print('hi')\n")
    git("add", ".", cwd=path)
    git("commit", "-m", "init", cwd=path)
    if feature:
        git("checkout", "-b", "feature", cwd=path)
        (path / "app.py").write_text("print('hello')\n")
        (path / "new.txt").write_text("new\n")
        git("add", ".", cwd=path)
        git("commit", "-m", "feature", cwd=path)
        git("checkout", "main", cwd=path)
    return path
