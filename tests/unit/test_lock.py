"""The lock (`constraints.txt`) covers every dependency and is what is installed."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]


def _pins() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = re.fullmatch(r"([A-Za-z0-9._-]+)==([^\s;]+)", line)
        assert match, f"constraints.txt: not an exact pin: {line!r}"
        pins[canonicalize_name(match[1])] = match[2]
    return pins


def _closure(extras: set[str]) -> dict[str, str]:
    """Installed name -> version of all ``asynccoder[extras]`` needs, transitively, markers evaluated."""
    seen: dict[str, str] = {}
    todo = [("asynccoder", frozenset(extras))]
    while todo:
        name, wanted = todo.pop()
        dist = metadata.distribution(name)
        for raw in dist.requires or []:
            req = Requirement(raw)
            if req.marker and not any(req.marker.evaluate({"extra": e}) for e in (wanted or {""})):
                continue
            key = canonicalize_name(req.name)
            if key in seen:
                continue
            seen[key] = metadata.version(req.name)
            todo.append((req.name, frozenset(req.extras)))
    return seen


def test_every_installed_dependency_is_pinned_at_the_installed_version() -> None:
    pins = _pins()
    needed = _closure({"test"})

    missing = sorted(set(needed) - set(pins))
    drifted = sorted(
        f"{n}: installed {v}, locked {pins[n]}" for n, v in needed.items() if pins.get(n, v) != v
    )

    assert not missing, f"not in constraints.txt (run `nox -s lock`): {missing}"
    assert not drifted, f"installed without the lock (`pip install -c constraints.txt ...`): {drifted}"


def test_the_lower_bounds_in_pyproject_admit_the_locked_versions() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = _pins()
    extras = project["optional-dependencies"]
    direct = [*project["dependencies"], *extras["test"], *extras["observability"]]

    refused = [
        f"{req.name}{req.specifier} vs {pins[canonicalize_name(req.name)]}"
        for req in map(Requirement, direct)
        if req.name != "asynccoder"  # the test extra includes the observability extra
        and not req.specifier.contains(pins[canonicalize_name(req.name)], prereleases=True)
    ]

    assert not refused
