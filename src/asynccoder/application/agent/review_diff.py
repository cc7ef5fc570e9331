"""The agent loop's own unified-diff helper for PR Review (to merge with the agenttools diff-hunk helper).

A diff is split into files and hunks; each hunk is rendered PR-Agent style with new-side line numbers, and
the commentable lines of each file are the new-side lines inside its hunks (added or context), which is
what GitHub accepts for a ``RIGHT``-side review comment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@(.*)$")


@dataclass(frozen=True, slots=True)
class HunkLine:
    kind: str  # "+", "-" or " "
    text: str
    new_line: int | None  # None for removed lines


@dataclass
class FileDiff:
    path: str
    old_path: str | None
    hunks: list[list[HunkLine]] = field(default_factory=list)
    deleted: bool = False

    @property
    def commentable(self) -> frozenset[int]:
        return frozenset(line.new_line for hunk in self.hunks for line in hunk if line.new_line is not None)

    def render(self) -> str:
        """``## File: 'path'`` then each hunk's new side numbered and its removed lines listed apart."""
        out = [f"## File: '{self.path}'" + (" (deleted)" if self.deleted else "")]
        for hunk in self.hunks:
            out.append("__new hunk__")
            out.extend(f"{ln.new_line} {ln.kind}{ln.text}" for ln in hunk if ln.new_line is not None)
            removed = [ln for ln in hunk if ln.kind == "-"]
            if removed:
                out.append("__old hunk__")
                out.extend(f"-{ln.text}" for ln in removed)
        return "\n".join(out)


def parse_unified_diff(diff: str) -> list[FileDiff]:
    files: list[FileDiff] = []
    current: FileDiff | None = None
    new_line = 0
    for raw in diff.splitlines():
        if raw.startswith("diff --git "):
            match = re.match(r"diff --git a/(.+) b/(.+)$", raw)
            path = match.group(2) if match else raw.split()[-1]
            current = FileDiff(path=path, old_path=match.group(1) if match else None)
            files.append(current)
            continue
        if current is None:
            continue
        if raw.startswith("+++ "):
            target = raw[4:]
            if target == "/dev/null":
                current.deleted = True
            elif target.startswith("b/"):
                current.path = target[2:]
            continue
        if raw.startswith("--- ") and not current.hunks:
            continue
        hunk = _HUNK.match(raw)
        if hunk:
            new_line = int(hunk.group(3))
            current.hunks.append([])
            continue
        if not current.hunks or raw.startswith("\\"):
            continue
        kind, text = (raw[0], raw[1:]) if raw else (" ", "")
        if kind == "+":
            current.hunks[-1].append(HunkLine("+", text, new_line))
            new_line += 1
        elif kind == "-":
            current.hunks[-1].append(HunkLine("-", text, None))
        elif kind == " ":
            current.hunks[-1].append(HunkLine(" ", text, new_line))
            new_line += 1
    return [f for f in files if f.hunks or f.deleted]


def pack_for_review(files: list[FileDiff], *, max_chars: int) -> tuple[str, list[str]]:
    """The rendered files that fit in ``max_chars`` (smallest first, deletion-only files dropped) and the
    paths of those left out, to be listed as "other modified files"."""
    rendered: list[str] = []
    left_out: list[str] = []
    used = 0
    for diff in sorted(files, key=lambda f: (len(f.render()), f.path)):
        text = diff.render()
        if diff.deleted or not diff.commentable:
            left_out.append(diff.path)
            continue
        if used + len(text) > max_chars:
            left_out.append(diff.path)
            continue
        rendered.append(text)
        used += len(text)
    order = {f.path: i for i, f in enumerate(files)}
    rendered.sort(key=lambda t: order.get(t.split("'", 2)[1], 0))
    return "\n\n".join(rendered), sorted(left_out)
