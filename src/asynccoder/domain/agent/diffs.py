"""Unified diffs as a reviewer sees them: files, hunks numbered on the new side, commentable lines.

The rendering follows PR-Agent: each file as ``## File: '<path>'``, each hunk as a ``__new hunk__`` block with
its lines' new-side numbers (context and added lines) and, when lines were removed, an ``__old hunk__``
block with the removed lines numbered on the old side. A finding from a model is checked against the lines
the diff actually has before it is posted: RIGHT = added or context lines by new number, LEFT = removed or
context lines by old number; a multi-line finding must stay inside one hunk (GitHub refuses anything else).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

_HUNK_HEADER = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@ ?(.*)$")


class Side(enum.StrEnum):
    RIGHT = "RIGHT"  # the new version: added and unchanged lines
    LEFT = "LEFT"  # the old version: removed and unchanged lines


class FileStatus(enum.StrEnum):
    ADDED = "added"
    MODIFIED = "modified"
    DELETED = "deleted"
    RENAMED = "renamed"


@dataclass(frozen=True, slots=True)
class DiffLine:
    kind: str  # "+", "-" or " "
    text: str
    old_line: int | None
    new_line: int | None


@dataclass(frozen=True, slots=True)
class Hunk:
    old_start: int
    old_count: int
    new_start: int
    new_count: int
    section: str  # the text after the second @@ (often the enclosing function)
    lines: tuple[DiffLine, ...]

    @property
    def added(self) -> int:
        return sum(1 for line in self.lines if line.kind == "+")

    @property
    def removed(self) -> int:
        return sum(1 for line in self.lines if line.kind == "-")


@dataclass(frozen=True, slots=True)
class FileDiff:
    path: str  # the new path (the old one for a deleted file)
    old_path: str | None  # None for an added file
    status: FileStatus
    hunks: tuple[Hunk, ...]
    binary: bool = False

    @property
    def additions(self) -> int:
        return sum(h.added for h in self.hunks)

    @property
    def deletions(self) -> int:
        return sum(h.removed for h in self.hunks)


@dataclass(frozen=True, slots=True)
class CommentableLines:
    right: frozenset[int]
    left: frozenset[int]

    def on(self, side: Side) -> frozenset[int]:
        return self.right if side is Side.RIGHT else self.left


def _unquote_path(raw: str) -> str:
    raw = raw.strip()
    if raw.startswith('"') and raw.endswith('"') and len(raw) >= 2:
        # git C-quotes unusual names: decode its octal escapes back into UTF-8
        body = raw[1:-1]
        out = bytearray()
        i = 0
        while i < len(body):
            ch = body[i]
            if ch == "\\" and i + 1 < len(body):
                nxt = body[i + 1]
                if re.fullmatch(r"[0-7]{3}", body[i + 1 : i + 4]):
                    out.append(int(body[i + 1 : i + 4], 8))
                    i += 4
                    continue
                out.extend({"n": b"\n", "t": b"\t", '"': b'"', "\\": b"\\"}.get(nxt, nxt.encode()))
                i += 2
                continue
            out.extend(ch.encode())
            i += 1
        return out.decode("utf-8", "replace")
    return raw


def _strip_prefix(path: str) -> str | None:
    path = _unquote_path(path.split("\t", 1)[0])
    if path == "/dev/null":
        return None
    if path.startswith(("a/", "b/")):
        return path[2:]
    return path


@dataclass
class _FileBuilder:
    old_path: str | None = None
    new_path: str | None = None
    git_old: str | None = None
    git_new: str | None = None
    status: FileStatus | None = None
    binary: bool = False
    rename_from: str | None = None
    rename_to: str | None = None

    def __post_init__(self) -> None:
        self.hunks: list[Hunk] = []

    def build(self) -> FileDiff | None:
        old = self.rename_from or self.old_path or self.git_old
        new = self.rename_to or self.new_path or self.git_new
        status = self.status
        if status is None:
            if self.rename_from or self.rename_to:
                status = FileStatus.RENAMED
            elif self.old_path is None and self.new_path is not None and not self.git_old:
                status = FileStatus.ADDED
            elif self.new_path is None and self.old_path is not None and not self.git_new:
                status = FileStatus.DELETED
            else:
                status = FileStatus.MODIFIED
        if status is FileStatus.ADDED:
            old = None
        path = old if status is FileStatus.DELETED else new
        if path is None:
            path = old
        if path is None:
            return None
        return FileDiff(path=path, old_path=old, status=status, hunks=tuple(self.hunks), binary=self.binary)


def parse_unified_diff(text: str) -> tuple[FileDiff, ...]:
    """The files of a ``git diff`` (or any unified diff), in order, with numbered hunk lines.

    Lenient about what it does not need (index lines, modes, "\\ No newline at end of file"); never raises.
    """
    files: list[FileDiff] = []
    current: _FileBuilder | None = None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    i = 0

    def finish() -> None:
        nonlocal current
        if current is not None:
            built = current.build()
            if built is not None:
                files.append(built)
        current = None

    while i < len(lines):
        line = lines[i]
        if line.startswith("diff --git "):
            finish()
            current = _FileBuilder()
            match = re.match(r'^diff --git ("?a/.+?"?) ("?b/.+"?)$', line)
            if match:
                current.git_old = _strip_prefix(match.group(1))
                current.git_new = _strip_prefix(match.group(2))
            i += 1
            continue
        if line.startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ "):
            if current is None or current.hunks:
                finish()
                current = _FileBuilder()
            current.old_path = _strip_prefix(line[4:])
            current.new_path = _strip_prefix(lines[i + 1][4:])
            if current.old_path is None:
                current.status = FileStatus.ADDED
            elif current.new_path is None:
                current.status = FileStatus.DELETED
            i += 2
            continue
        if current is None:
            i += 1
            continue
        if line.startswith("new file mode"):
            current.status = FileStatus.ADDED
        elif line.startswith("deleted file mode"):
            current.status = FileStatus.DELETED
        elif line.startswith("rename from "):
            current.rename_from = _unquote_path(line[len("rename from ") :])
        elif line.startswith("rename to "):
            current.rename_to = _unquote_path(line[len("rename to ") :])
        elif line.startswith("Binary files ") or line == "GIT binary patch":
            current.binary = True
        elif header := _HUNK_HEADER.match(line):
            old_start, old_count = int(header.group(1)), int(header.group(2) or "1")
            new_start, new_count = int(header.group(3)), int(header.group(4) or "1")
            body: list[DiffLine] = []
            old_no, new_no = old_start, new_start
            old_left, new_left = old_count, new_count
            i += 1
            while i < len(lines) and (old_left > 0 or new_left > 0):
                raw = lines[i]
                if raw.startswith("\\"):
                    i += 1
                    continue
                kind, content = (raw[:1] or " "), raw[1:]
                if kind == "+":
                    body.append(DiffLine("+", content, None, new_no))
                    new_no += 1
                    new_left -= 1
                elif kind == "-":
                    body.append(DiffLine("-", content, old_no, None))
                    old_no += 1
                    old_left -= 1
                elif kind == " ":
                    body.append(DiffLine(" ", content, old_no, new_no))
                    old_no += 1
                    new_no += 1
                    old_left -= 1
                    new_left -= 1
                else:
                    break
                i += 1
            while i < len(lines) and lines[i].startswith("\\"):
                i += 1
            current.hunks.append(
                Hunk(old_start, old_count, new_start, new_count, header.group(5), tuple(body))
            )
            continue
        i += 1
    finish()
    return tuple(files)


def commentable_lines(file: FileDiff) -> CommentableLines:
    right: set[int] = set()
    left: set[int] = set()
    for hunk in file.hunks:
        for line in hunk.lines:
            if line.new_line is not None:
                right.add(line.new_line)
            if line.old_line is not None:
                left.add(line.old_line)
    return CommentableLines(frozenset(right), frozenset(left))


@dataclass(frozen=True, slots=True)
class FindingCheck:
    ok: bool
    reason: str | None = None


def _hunk_lines(hunk: Hunk, side: Side) -> frozenset[int]:
    if side is Side.RIGHT:
        return frozenset(line.new_line for line in hunk.lines if line.new_line is not None)
    return frozenset(line.old_line for line in hunk.lines if line.old_line is not None)


def validate_finding(
    files: Iterable[FileDiff],
    *,
    path: str,
    line: int,
    side: Side | str = Side.RIGHT,
    start_line: int | None = None,
) -> FindingCheck:
    """Whether an inline comment on ``path`` at ``line`` (from ``start_line``) on ``side`` fits the diff.

    A finding that does not fit goes to the review's summary instead of being posted inline.
    """
    try:
        side = Side(side)
    except ValueError:
        return FindingCheck(False, "side must be RIGHT or LEFT")
    file = next((f for f in files if f.path == path), None)
    if file is None:
        return FindingCheck(False, f"{path} is not part of the diff")
    if file.binary or not file.hunks:
        return FindingCheck(False, f"{path} has no text lines in the diff")
    if start_line is not None and start_line > line:
        return FindingCheck(False, "start_line must not be after line")
    first = line if start_line is None else start_line
    for hunk in file.hunks:
        numbers = _hunk_lines(hunk, side)
        if line in numbers:
            if all(n in numbers for n in range(first, line + 1)):
                return FindingCheck(True)
            return FindingCheck(False, f"lines {first}-{line} of {path} are not inside one hunk")
    return FindingCheck(False, f"line {line} of {path} ({side.value}) is not in the diff")


def render_file(file: FileDiff) -> str:
    """One file in PR-Agent's review format: a ``__new hunk__`` block numbered on the new side and an
    ``__old hunk__`` block numbered on the old side."""
    out = [f"## File: '{file.path}'"]
    if file.status is FileStatus.RENAMED and file.old_path:
        out.append(f"(renamed from '{file.old_path}')")
    elif file.status is FileStatus.DELETED:
        out.append("(deleted)")
    elif file.status is FileStatus.ADDED:
        out.append("(new file)")
    if file.binary:
        out.append("(binary file, not shown)")
    for hunk in file.hunks:
        out.append("")
        header = f"@@ -{hunk.old_start},{hunk.old_count} +{hunk.new_start},{hunk.new_count} @@"
        out.append(f"{header} {hunk.section}".rstrip())
        new_side = [line for line in hunk.lines if line.kind != "-"]
        if new_side:
            out.append("__new hunk__")
            out.extend(f"{line.new_line} {'+' if line.kind == '+' else ' '}{line.text}" for line in new_side)
        if hunk.removed:
            # Numbered on the old side, so that a finding on a removed line can name it (side LEFT).
            out.append("__old hunk__")
            out.extend(
                f"{line.old_line} {'-' if line.kind == '-' else ' '}{line.text}"
                for line in hunk.lines
                if line.kind != "+"
            )
    return "\n".join(out) + "\n"


@dataclass(frozen=True, slots=True)
class PackedDiff:
    text: str  # the rendered files that fit, then the list of the others
    included: tuple[str, ...]
    omitted: tuple[str, ...]


LOCKFILES = frozenset(
    {
        "package-lock.json",
        "npm-shrinkwrap.json",
        "yarn.lock",
        "pnpm-lock.yaml",
        "bun.lockb",
        "poetry.lock",
        "pipfile.lock",
        "uv.lock",
        "pdm.lock",
        "cargo.lock",
        "gemfile.lock",
        "composer.lock",
        "go.sum",
        "flake.lock",
        "mix.lock",
        "pubspec.lock",
        "podfile.lock",
        "packages.lock.json",
        "gradle.lockfile",
    }
)
CODE_SUFFIXES = frozenset(
    [
        ".py",
        ".pyi",
        ".js",
        ".mjs",
        ".cjs",
        ".ts",
        ".tsx",
        ".jsx",
        ".go",
        ".rs",
        ".java",
        ".kt",
        ".kts",
        ".scala",
        ".c",
        ".h",
        ".cc",
        ".cpp",
        ".cxx",
        ".hpp",
        ".cs",
        ".rb",
        ".php",
        ".swift",
        ".m",
        ".mm",
        ".sh",
        ".bash",
        ".sql",
        ".lua",
        ".ex",
        ".exs",
        ".erl",
        ".hs",
        ".ml",
        ".clj",
        ".dart",
        ".vue",
        ".svelte",
        ".r",
        ".pl",
        ".zig",
        ".sol",
        ".tf",
    ]
)
_GENERATED_DIRS = frozenset(
    {"vendor", "node_modules", "dist", "build", "generated", "__generated__", "third_party"}
)
_GENERATED_SUFFIXES = (".min.js", ".min.css", ".map", ".pb.go", "_pb2.py", "_pb2_grpc.py", ".snap", ".lock")


def relevance(path: str) -> int:
    """How much a reviewer gains from a file's diff: 0 code, 1 other text (docs, configuration),
    2 lockfiles, generated, minified or vendored files."""
    name = path.rsplit("/", 1)[-1].lower()
    parts = path.lower().split("/")[:-1]
    if (
        name in LOCKFILES
        or name.endswith(_GENERATED_SUFFIXES)
        or ".generated." in name
        or any(p in _GENERATED_DIRS for p in parts)
    ):
        return 2
    suffix = "." + name.rsplit(".", 1)[-1] if "." in name else ""
    return 0 if suffix in CODE_SUFFIXES else 1


def _priority(file: FileDiff) -> tuple[int, int, int, str]:
    # Code before other text before lockfiles and generated files; within each, files that add lines
    # before deletion-only ones (findings are on new code), binary files last; the smaller change first so
    # that more files fit; the path breaks ties so the order is deterministic.
    if file.binary or not file.hunks:
        return (3, 1, 0, file.path)
    deletion_only = 0 if file.additions else 1
    return (relevance(file.path), deletion_only, file.additions + file.deletions, file.path)


def estimate_tokens(text: str) -> int:
    """About four characters per token, rounded up (cheap and deterministic)."""
    return (len(text) + 3) // 4


def pack_files(files: Iterable[FileDiff], budget: int, *, measure: Callable[[str], int] = len) -> PackedDiff:
    """The rendered files that fit ``budget`` (``measure`` counts characters, or tokens with
    ``estimate_tokens``), chosen most relevant first (see ``relevance``), the rest listed by name.

    The listing of omitted files is counted against the budget too; included files keep diff order.
    """
    all_files = list(files)
    order = sorted(all_files, key=_priority)
    rendered = {f.path: render_file(f) for f in all_files}
    chosen: set[str] = set()
    used = 0

    def listing(omitted: list[str]) -> str:
        if not omitted:
            return ""
        return "\n## Other modified files (not shown)\n" + "".join(f"- {p}\n" for p in omitted)

    for file in order:
        cost = measure(rendered[file.path]) + 1
        remaining = [f.path for f in all_files if f.path not in chosen and f.path != file.path]
        if used + cost + measure(listing(remaining)) <= budget:
            chosen.add(file.path)
            used += cost
    included = tuple(f.path for f in all_files if f.path in chosen)
    omitted = [f.path for f in all_files if f.path not in chosen]
    text = "\n".join(rendered[p] for p in included) + listing(omitted)
    return PackedDiff(text, included, tuple(omitted))
