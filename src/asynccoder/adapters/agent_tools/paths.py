"""Confinement of every path a tool is given to the task's workspace.

Paths are relative to the repository root (``/workspace/...``, what the shell sees, is accepted as the same);
other absolute paths, ``..`` segments, NUL bytes and anything inside ``.git`` are refused, and symlinks are
resolved and must land inside the workspace too. Error texts name the path as given, never a host path.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath

SANDBOX_ROOT = "/workspace"


class PathRefused(Exception):
    """The path is outside the workspace or otherwise not allowed; the message says what to do instead."""


@dataclass(frozen=True, slots=True)
class WorkspacePath:
    relative: str  # normalised, "." for the root
    absolute: Path  # resolved, inside the workspace


def confine(root: Path, raw: object, *, allow_root: bool = True) -> WorkspacePath:
    if not isinstance(raw, str) or not raw.strip():
        raise PathRefused("A path is required, relative to the repository root (for example src/app.py).")
    text = raw.strip()
    if "\0" in text:
        raise PathRefused("The path contains a NUL byte.")
    if text == SANDBOX_ROOT or text.startswith(SANDBOX_ROOT + "/"):
        text = text[len(SANDBOX_ROOT) :].lstrip("/") or "."
    pure = PurePosixPath(text)
    if pure.is_absolute() or text.startswith("~"):
        raise PathRefused(
            f"{raw!r} is an absolute path; use a path relative to the repository root "
            "(for example src/app.py)."
        )
    if ".." in pure.parts:
        raise PathRefused(f"{raw!r} contains '..'; paths must stay inside the repository.")
    if ".git" in pure.parts:
        raise PathRefused(
            f"{raw!r} is inside .git, which the platform manages; it cannot be read or changed."
        )
    relative = str(pure) if str(pure) not in ("", ".") else "."
    if relative == "." and not allow_root:
        raise PathRefused("A file path is required, not the repository root.")
    base = root.resolve()
    try:
        candidate = (base / relative).resolve(strict=False)
    except (RuntimeError, OSError):  # a symlink loop (Python < 3.13 raises RuntimeError)
        raise PathRefused(f"{raw!r} cannot be resolved (a loop of symbolic links).") from None
    if candidate != base and base not in candidate.parents:
        raise PathRefused(
            f"{raw!r} leads outside the repository (through a symbolic link); it is not allowed."
        )
    git_dir = base / ".git"
    if candidate == git_dir or git_dir in candidate.parents:
        raise PathRefused(
            f"{raw!r} leads into .git, which the platform manages; it cannot be read or changed."
        )
    return WorkspacePath(relative, candidate)
