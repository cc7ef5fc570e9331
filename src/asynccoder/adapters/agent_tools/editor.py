"""The file viewer/editor tool, with the semantics of Anthropic's text editor (also OpenHands'):

``view`` (numbered lines; an optional 1-based ``view_range`` with -1 for the end; big files open on a 100-line
window; a directory is listed two levels deep), ``create`` (fails if the path exists), ``str_replace`` (an
exact, unique ``old_str``; 0 matches shows the nearest lines, several matches their line numbers), ``insert``
(after ``insert_line``, 0 = the top). After an edit the changed region comes back numbered. A Python, JSON or
TOML file that parsed before an edit must still parse after it: a breaking edit is refused with the error and
the file is left alone. The read-only variant (``view``) offers only viewing.
"""

from __future__ import annotations

import difflib
import json
import os
import tomllib
import warnings
from pathlib import Path
from typing import Any

import anyio.to_thread

from asynccoder.adapters.agent_tools.paths import PathRefused, WorkspacePath, confine
from asynccoder.adapters.agent_tools.schemas import definition
from asynccoder.application.ports.agent import AgentTool, ToolOutput, Workspace
from asynccoder.domain.agent.truncation import truncate_middle
from asynccoder.domain.ai import NATIVE_TEXT_EDITOR, ToolDefinition

WINDOW_LINES = 100
MAX_LINE_CHARS = 2_000
MAX_FILE_BYTES = 2 * 1024 * 1024
MAX_LISTED_ENTRIES = 400
SNIPPET_CONTEXT = 4
_SKIPPED_DIRS = frozenset({".git", "node_modules", "__pycache__", ".venv", "venv", ".mypy_cache", ".tox"})

_PATH_PROPERTY = {
    "type": "string",
    "description": "Path relative to the repository root, e.g. `src/app.py` (`.` is the root).",
}
_VIEW_RANGE_PROPERTY = {
    "type": "array",
    "items": {"type": "integer"},
    "minItems": 2,
    "maxItems": 2,
    "description": "Optional [start_line, end_line], 1-based, inclusive; end_line -1 = the end of the file.",
}

EDIT_DEFINITION = definition(
    name="edit",
    description=(
        "View and edit files of the repository.\n"
        "* `view`: a file with numbered lines (files over 100 lines open on lines 1-100; pass `view_range` "
        "for "
        "others) or a directory two levels deep.\n"
        "* `create`: a new file with `file_text`; fails if the path exists.\n"
        "* `str_replace`: replace `old_str`, which must match exactly one place of the file (whitespace "
        "included; give 3-5 lines of context to make it unique), with `new_str` (empty to delete).\n"
        "* `insert`: insert `insert_text` after line `insert_line` (0 = top of the file).\n"
        "Edits that break Python, JSON or TOML syntax are refused. Paths are relative to the repository root."
    ),
    input_schema={
        "type": "object",
        "properties": {
            "command": {"type": "string", "enum": ["view", "create", "str_replace", "insert"]},
            "path": _PATH_PROPERTY,
            "view_range": _VIEW_RANGE_PROPERTY,
            "file_text": {"type": "string", "description": "`create`: the whole content of the new file."},
            "old_str": {"type": "string", "description": "`str_replace`: the exact text to replace."},
            "new_str": {"type": "string", "description": "`str_replace`: the replacement text."},
            "insert_line": {
                "type": "integer",
                "minimum": 0,
                "description": "`insert`: insert after this line.",
            },
            "insert_text": {"type": "string", "description": "`insert`: the text to insert."},
        },
        "required": ["command", "path"],
        "additionalProperties": False,
    },
    # Same commands and argument names as Anthropic's text editor: Claude gets its native tool instead.
    native=NATIVE_TEXT_EDITOR,
)

VIEW_DEFINITION = definition(
    name="view",
    description=(
        "View a file of the repository with numbered lines (files over 100 lines open on lines 1-100; pass "
        "`view_range` for others), or a directory two levels deep. Paths are relative to the repository root."
    ),
    input_schema={
        "type": "object",
        "properties": {"path": _PATH_PROPERTY, "view_range": _VIEW_RANGE_PROPERTY},
        "required": ["path"],
        "additionalProperties": False,
    },
)


class _Refused(Exception):
    pass


def _numbered(lines: list[str], first: int) -> str:
    out = []
    for offset, line in enumerate(lines):
        if len(line) > MAX_LINE_CHARS:
            line = line[:MAX_LINE_CHARS] + f" [... line cut at {MAX_LINE_CHARS:,} characters]"
        out.append(f"{first + offset:6}\t{line}")
    return "\n".join(out)


def _lines(text: str) -> list[str]:
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def syntax_error(relative: str, text: str) -> str | None:
    """The parse error of ``text`` for the file's language (Python, JSON, TOML), or None."""
    suffix = Path(relative).suffix.lower()
    try:
        if suffix in (".py", ".pyi"):
            # A full compile (never run) also catches what the parser lets through, e.g. ``return`` outside
            # a function. Its SyntaxWarnings (invalid escapes, ``is`` with a literal) are not errors of the
            # edit, even where warnings are turned into errors.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                compile(text, relative, "exec", dont_inherit=True)
        elif suffix == ".json":
            json.loads(text)
        elif suffix == ".toml":
            tomllib.loads(text)
    except SyntaxError as error:
        where = f"line {error.lineno}" if error.lineno else "somewhere"
        shown = ""
        lines = text.split("\n")
        if error.lineno and 0 < error.lineno <= len(lines):
            shown = f"\n{_numbered([lines[error.lineno - 1]], error.lineno)}"
        return f"Python syntax error at {where}: {error.msg}{shown}"
    except json.JSONDecodeError as error:
        return f"JSON syntax error at line {error.lineno}, column {error.colno}: {error.msg}"
    except tomllib.TOMLDecodeError as error:
        return f"TOML syntax error: {error}"
    except ValueError as error:  # e.g. NUL bytes in Python source
        return f"Syntax error: {error}"
    return None


class FileEditorTool(AgentTool):
    """``edit`` over a workspace, or the read-only ``view`` when ``read_only``."""

    def __init__(self, workspace: Workspace, *, read_only: bool = False) -> None:
        self._workspace = workspace
        self._read_only = read_only

    @property
    def definition(self) -> ToolDefinition:
        return VIEW_DEFINITION if self._read_only else EDIT_DEFINITION

    async def run(self, arguments: dict[str, Any]) -> ToolOutput:
        return await anyio.to_thread.run_sync(self._run, arguments)

    # --- dispatch --------------------------------------------------------------------------------------

    def _run(self, arguments: dict[str, Any]) -> ToolOutput:
        if not isinstance(arguments, dict):
            return ToolOutput("The arguments must be an object.", is_error=True)
        command = arguments.get("command", "view" if self._read_only else None)
        try:
            if command == "view":
                text = self._view(arguments)
            elif command in ("create", "str_replace", "insert"):
                if self._read_only:
                    raise _Refused("This task is read-only: files can be viewed, not changed.")
                text = {"create": self._create, "str_replace": self._str_replace, "insert": self._insert}[
                    command
                ](arguments)
            else:
                raise _Refused("`command` must be one of view, create, str_replace, insert.")
        except (PathRefused, _Refused) as refused:
            return ToolOutput(truncate_middle(str(refused)).text, is_error=True)
        except OSError as error:  # the message names no host path, only what went wrong
            reason = error.strerror or type(error).__name__
            return ToolOutput(f"The file operation failed: {reason}.", is_error=True)
        return ToolOutput(truncate_middle(text).text)

    def _path(self, arguments: dict[str, Any], *, allow_root: bool) -> WorkspacePath:
        return confine(self._workspace.root, arguments.get("path"), allow_root=allow_root)

    @staticmethod
    def _read(path: WorkspacePath) -> str:
        if not path.absolute.exists():
            raise _Refused(f"{path.relative} does not exist. Use `view` on a directory to see what is there.")
        if not path.absolute.is_file():
            raise _Refused(f"{path.relative} is not a regular file.")
        size = path.absolute.stat().st_size
        if size > MAX_FILE_BYTES:
            raise _Refused(f"{path.relative} is {size:,} bytes, too big for this tool; use `search` on it.")
        data = path.absolute.read_bytes()
        if b"\0" in data[:8192]:
            raise _Refused(
                f"{path.relative} is a binary file ({size:,} bytes); it cannot be shown or edited."
            )
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise _Refused(f"{path.relative} is not UTF-8 text; it cannot be shown or edited.") from None

    @staticmethod
    def _write(path: WorkspacePath, text: str, *, create: bool) -> None:
        flags = os.O_WRONLY | os.O_NOFOLLOW | (os.O_CREAT | os.O_EXCL if create else os.O_TRUNC)
        if create:
            path.absolute.parent.mkdir(parents=True, exist_ok=True)
        mode = path.absolute.stat().st_mode & 0o7777 if not create else 0o644
        descriptor = os.open(path.absolute, flags, mode)
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)

    def _check_syntax(self, path: WorkspacePath, before: str | None, after: str) -> None:
        if before is not None and syntax_error(path.relative, before) is not None:
            return  # it did not parse before: the edit may be part of a repair
        error = syntax_error(path.relative, after)
        if error is not None:
            raise _Refused(f"The edit was NOT applied: it would leave {path.relative} unparsable.\n{error}")

    def _snippet(self, path: WorkspacePath, text: str, first_line: int, last_line: int) -> str:
        lines = _lines(text)
        start = max(1, first_line - SNIPPET_CONTEXT)
        end = min(len(lines), max(last_line, first_line) + SNIPPET_CONTEXT)
        body = _numbered(lines[start - 1 : end], start) if lines else "(the file is now empty)"
        return (
            f"The file {path.relative} has been edited. Lines {start}-{end} now read:\n{body}\n"
            "Review the change; edit again if it is not what you intended."
        )

    # --- commands --------------------------------------------------------------------------------------

    def _view(self, arguments: dict[str, Any]) -> str:
        path = self._path(arguments, allow_root=True)
        view_range = arguments.get("view_range")
        if path.absolute.is_dir():
            if view_range is not None:
                raise _Refused("`view_range` applies to files, not directories.")
            return self._list(path)
        text = self._read(path)
        lines = _lines(text)
        total = len(lines)
        if view_range is None:
            if total <= WINDOW_LINES:
                return _numbered(lines, 1) if lines else f"{path.relative} is empty."
            return (
                f"{_numbered(lines[:WINDOW_LINES], 1)}\n[{path.relative} has {total:,} lines; this shows "
                f"1-{WINDOW_LINES}. Pass view_range, e.g. [{WINDOW_LINES + 1}, "
                f"{min(total, 2 * WINDOW_LINES)}], "
                "or search for what you need.]"
            )
        if (
            not isinstance(view_range, list)
            or len(view_range) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in view_range)
        ):
            raise _Refused("`view_range` must be two integers [start_line, end_line].")
        start, end = view_range
        if total == 0:
            return f"{path.relative} is empty."
        if not 1 <= start <= total:
            raise _Refused(f"start_line {start} is outside the file, which has lines 1-{total}.")
        if end == -1:
            end = total
        if end < start:
            raise _Refused(f"end_line {end} is before start_line {start}.")
        note = ""
        if end > total:
            note = f"\n[{path.relative} ends at line {total}.]"
            end = total
        return _numbered(lines[start - 1 : end], start) + note

    def _list(self, path: WorkspacePath) -> str:
        entries: list[str] = []
        base = path.absolute

        def children(directory: Path) -> list[Path]:
            try:
                found = [c for c in directory.iterdir() if not c.name.startswith(".")]
            except OSError:
                return []
            return sorted(found, key=lambda c: c.name)

        for child in children(base):
            is_dir = child.is_dir() and not child.is_symlink()
            entries.append(child.name + ("/" if is_dir else ""))
            if is_dir and child.name not in _SKIPPED_DIRS:
                for grandchild in children(child):
                    slash = "/" if grandchild.is_dir() and not grandchild.is_symlink() else ""
                    entries.append(f"{child.name}/{grandchild.name}{slash}")
        shown = entries[:MAX_LISTED_ENTRIES]
        header = f"Files and directories in {path.relative} (two levels, hidden entries left out):"
        more = (
            f"\n[... {len(entries) - MAX_LISTED_ENTRIES:,} more entries; view a subdirectory to see them.]"
            if len(entries) > MAX_LISTED_ENTRIES
            else ""
        )
        return header + "\n" + ("\n".join(shown) if shown else "(empty)") + more

    def _create(self, arguments: dict[str, Any]) -> str:
        path = self._path(arguments, allow_root=False)
        file_text = arguments.get("file_text")
        if not isinstance(file_text, str):
            raise _Refused("`create` needs `file_text`, the whole content of the new file.")
        if path.absolute.exists() or path.absolute.is_symlink():
            raise _Refused(
                f"{path.relative} already exists; use `str_replace` or `insert` to change it (view it first)."
            )
        self._check_syntax(path, None, file_text)
        try:
            self._write(path, file_text, create=True)
        except FileExistsError:
            raise _Refused(f"{path.relative} already exists.") from None
        except NotADirectoryError:
            raise _Refused(f"A parent of {path.relative} is a file, not a directory.") from None
        return f"Created {path.relative} ({len(_lines(file_text))} lines)."

    def _str_replace(self, arguments: dict[str, Any]) -> str:
        path = self._path(arguments, allow_root=False)
        old = arguments.get("old_str")
        new = arguments.get("new_str", "")
        if not isinstance(old, str) or old == "":
            raise _Refused("`str_replace` needs a non-empty `old_str` copied exactly from the file.")
        if not isinstance(new, str):
            raise _Refused("`new_str` must be a string.")
        if old == new:
            raise _Refused("`old_str` and `new_str` are the same; nothing would change.")
        text = self._read(path)
        count = text.count(old)
        if count == 0:
            raise _Refused(self._no_match(path, text, old))
        if count > 1:
            starts = []
            position = text.find(old)
            while position != -1:
                starts.append(text.count("\n", 0, position) + 1)
                position = text.find(old, position + 1)
            listed = ", ".join(str(n) for n in starts[:20]) + (", ..." if len(starts) > 20 else "")
            raise _Refused(
                f"`old_str` occurs {count} times in {path.relative} (starting at lines {listed}); nothing "
                "was "
                "changed. Include more surrounding lines so that it matches exactly one place."
            )
        position = text.find(old)
        updated = text[:position] + new + text[position + len(old) :]
        self._check_syntax(path, text, updated)
        self._write(path, updated, create=False)
        first = text.count("\n", 0, position) + 1
        return self._snippet(path, updated, first, first + new.count("\n"))

    @staticmethod
    def _no_match(path: WorkspacePath, text: str, old: str) -> str:
        lines = _lines(text)
        wanted = [line for line in old.split("\n") if line.strip()]
        message = f"No match for `old_str` in {path.relative}; nothing was changed."
        if not wanted or not lines:
            return message
        squeezed_text = [" ".join(line.split()) for line in lines]
        squeezed_old = [" ".join(line.split()) for line in wanted]
        if len(squeezed_old) <= len(squeezed_text):
            for index in range(len(squeezed_text) - len(squeezed_old) + 1):
                if squeezed_text[index : index + len(squeezed_old)] == squeezed_old:
                    return (
                        f"{message} Lines {index + 1}-{index + len(squeezed_old)} match except for "
                        "whitespace "
                        f"(indentation, tabs or trailing spaces):\n"
                        f"{_numbered(lines[index : index + len(squeezed_old)], index + 1)}\n"
                        "Copy them exactly, with view, and try again."
                    )
        first = wanted[0].strip()
        scored = sorted(
            (
                (difflib.SequenceMatcher(None, first, line.strip()).ratio(), -i)
                for i, line in enumerate(lines)
            ),
            reverse=True,
        )
        best = [-i for score, i in scored[:3] if score >= 0.5]
        if not best:
            return message + " No similar line was found; view the file to see its current content."
        shown = []
        for index in sorted(best):
            start = max(0, index - 2)
            shown.append(_numbered(lines[start : index + 3], start + 1))
        return (
            f"{message} The nearest lines to the start of `old_str` are:\n"
            + "\n...\n".join(shown)
            + "\nCopy the text exactly (view the file first) and try again."
        )

    def _insert(self, arguments: dict[str, Any]) -> str:
        path = self._path(arguments, allow_root=False)
        line = arguments.get("insert_line")
        new = arguments.get("insert_text", arguments.get("new_str"))
        if not isinstance(line, int) or isinstance(line, bool):
            raise _Refused("`insert` needs `insert_line`, the line to insert after (0 = top of the file).")
        if not isinstance(new, str) or new == "":
            raise _Refused("`insert` needs a non-empty `insert_text`.")
        text = self._read(path)
        lines = _lines(text)
        trailing_newline = text.endswith("\n") or text == ""
        if not 0 <= line <= len(lines):
            raise _Refused(
                f"insert_line {line} is outside the file, which has lines 1-{len(lines)} (0 = top)."
            )
        inserted = new[:-1] if new.endswith("\n") else new
        updated_lines = lines[:line] + inserted.split("\n") + lines[line:]
        updated = "\n".join(updated_lines) + ("\n" if trailing_newline or line == len(lines) else "")
        self._check_syntax(path, text, updated)
        self._write(path, updated, create=False)
        return self._snippet(path, updated, line + 1, line + inserted.count("\n") + 1)
