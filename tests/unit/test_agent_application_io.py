"""The agent's application code reaches files only through its ports (the Workspace), never the filesystem."""

from __future__ import annotations

import ast
from pathlib import Path

import asynccoder.application

# Methods that read or probe the host's filesystem (pathlib, os); plus the builtin ``open``.
_FILESYSTEM_METHODS = frozenset(
    {
        "resolve",
        "exists",
        "is_file",
        "is_dir",
        "is_symlink",
        "read_text",
        "read_bytes",
        "write_text",
        "write_bytes",
        "iterdir",
        "glob",
        "rglob",
        "stat",
        "lstat",
        "mkdir",
        "unlink",
        "listdir",
        "scandir",
        "walk",
    }
)


def _filesystem_calls(source: str) -> list[str]:
    tree = ast.parse(source)
    # ``await workspace.is_file(...)`` is a port (ports are async); a plain call is the filesystem.
    awaited = {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Await)}
    found: list[str] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or id(node) in awaited:
            continue
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in _FILESYSTEM_METHODS:
            found.append(f"{func.attr} (line {node.lineno})")
        elif isinstance(func, ast.Name) and func.id == "open":
            found.append(f"open (line {node.lineno})")
    return found


def test_application_code_never_touches_the_filesystem() -> None:
    root = Path(next(iter(asynccoder.application.__path__)))
    offenders = {
        str(path.relative_to(root)): calls
        for path in sorted(root.rglob("*.py"))
        if (calls := _filesystem_calls(path.read_text()))
    }
    assert offenders == {}
