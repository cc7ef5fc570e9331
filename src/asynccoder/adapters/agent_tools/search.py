"""The ``search`` tool: ripgrep over the workspace with fixed arguments, at most 50 results shown.

ripgrep runs as a child process with a minimal environment and no configuration file, never follows symbolic
links, skips ``.git`` and honours ``.gitignore``; results are sorted by path and line so the same query on
the same tree gives the same bytes. Beyond 50 results the model is told how many there were and to narrow
the query.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
from typing import Any

from asynccoder.adapters.agent_tools.paths import PathRefused, confine
from asynccoder.adapters.agent_tools.schemas import definition
from asynccoder.application.ports.agent import AgentTool, ToolOutput, Workspace
from asynccoder.domain.agent.truncation import truncate_middle
from asynccoder.domain.ai import ToolDefinition

MAX_RESULTS = 50
MAX_COUNTED = 1_000  # beyond this ripgrep is stopped and the count is given as "more than"
MAX_LINE_CHARS = 300
TIMEOUT_SECONDS = 30.0

SEARCH_DEFINITION = definition(
    name="search",
    description=(
        "Search the repository's files with ripgrep (regular expressions, Rust syntax). Returns up to 50 "
        "matching lines as `path:line: text`, sorted by path; .gitignored files and .git are skipped. Narrow "
        "with `path` (a file or directory) and `glob` (e.g. `*.py`) when there are too many results."
    ),
    input_schema={
        "type": "object",
        "properties": {
            "pattern": {"type": "string", "description": "The regular expression (or text, with literal)."},
            "path": {"type": "string", "description": "Optional file or directory, relative to the root."},
            "glob": {
                "type": "string",
                "description": "Optional file name filter, e.g. `*.py` or `src/**/*.ts`.",
            },
            "literal": {"type": "boolean", "description": "Treat the pattern as plain text (default false)."},
            "ignore_case": {"type": "boolean", "description": "Case-insensitive (default false)."},
        },
        "required": ["pattern"],
        "additionalProperties": False,
    },
)


class RipgrepSearchTool(AgentTool):
    def __init__(
        self, workspace: Workspace, *, ripgrep: str = "rg", timeout_seconds: float = TIMEOUT_SECONDS
    ):
        self._workspace = workspace
        self._rg = shutil.which(ripgrep)
        self._timeout = timeout_seconds

    @property
    def definition(self) -> ToolDefinition:
        return SEARCH_DEFINITION

    async def run(self, arguments: dict[str, Any]) -> ToolOutput:
        if not isinstance(arguments, dict):
            return ToolOutput("The arguments must be an object.", is_error=True)
        pattern = arguments.get("pattern")
        if not isinstance(pattern, str) or not pattern:
            return ToolOutput(
                "`pattern` is required: a regular expression or, with literal, plain text.", True
            )
        if "\0" in pattern or "\n" in pattern:
            return ToolOutput("The pattern must be a single line.", is_error=True)
        glob = arguments.get("glob")
        if glob is not None and (not isinstance(glob, str) or not glob or "\0" in glob or ".." in glob):
            return ToolOutput("`glob` must be a file name pattern such as *.py.", is_error=True)
        flags = {name: arguments.get(name, False) for name in ("literal", "ignore_case")}
        if not all(isinstance(v, bool) for v in flags.values()):
            return ToolOutput("`literal` and `ignore_case` must be true or false.", is_error=True)
        try:
            target = confine(self._workspace.root, arguments.get("path", "."), allow_root=True)
        except PathRefused as refused:
            return ToolOutput(str(refused), is_error=True)
        if not target.absolute.exists():
            return ToolOutput(f"{target.relative} does not exist.", is_error=True)
        if self._rg is None:
            return ToolOutput("Search is not available on this worker (ripgrep is not installed).", True)

        argv = [
            self._rg, "--json", "--no-config", "--sort", "path", "--hidden", "--glob", "!.git",
            "--max-filesize", "2M", "--max-columns", "2000",
        ]  # fmt: skip
        if flags["literal"]:
            argv.append("--fixed-strings")
        if flags["ignore_case"]:
            argv.append("--ignore-case")
        if glob is not None:
            argv += ["--glob", glob]
        argv += ["--regexp", pattern, "--", target.relative]
        return await self._search(argv, pattern)

    async def _search(self, argv: list[str], pattern: str) -> ToolOutput:
        process = await asyncio.create_subprocess_exec(
            *argv,
            cwd=self._workspace.root,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"},
            start_new_session=True,
        )
        matches: list[tuple[str, int, str]] = []
        stopped = False

        async def read() -> bytes:
            nonlocal stopped
            assert process.stdout is not None
            assert process.stderr is not None
            errors = asyncio.ensure_future(process.stderr.read(65536))
            while line := await process.stdout.readline():
                event = json.loads(line)
                if event.get("type") != "match":
                    continue
                data = event["data"]
                path = data["path"].get("text")
                text = data["lines"].get("text")
                if path is None or text is None:
                    continue  # not UTF-8: not useful to the model
                matches.append((path.removeprefix("./"), int(data["line_number"] or 0), text.rstrip("\r\n")))
                if len(matches) > MAX_COUNTED:
                    stopped = True
                    break
            if stopped:
                self._kill(process)
            await process.wait()
            return await errors

        try:
            stderr = await asyncio.wait_for(read(), self._timeout)
        except TimeoutError:
            self._kill(process)
            await process.wait()
            return ToolOutput("The search took too long; narrow it with `path` or `glob`.", is_error=True)
        finally:
            if process.returncode is None:
                self._kill(process)
                with contextlib.suppress(ProcessLookupError):
                    await asyncio.shield(process.wait())
        if process.returncode == 2 and not matches and not stopped:
            detail = stderr.decode("utf-8", "replace").strip().replace(str(self._workspace.root), ".")
            return ToolOutput(truncate_middle(f"The search failed: {detail}", head=1500, tail=500).text, True)
        if not matches:
            return ToolOutput(f"No matches for {pattern!r}.")
        shown = matches[:MAX_RESULTS]
        lines = []
        for path, number, text in shown:
            if len(text) > MAX_LINE_CHARS:
                text = text[:MAX_LINE_CHARS] + " [...]"
            lines.append(f"{path}:{number}: {text}")
        total = f"more than {MAX_COUNTED:,}" if stopped else f"{len(matches):,}"
        header = f"{total} matches for {pattern!r}" + (
            f"; the first {MAX_RESULTS} are shown:" if len(matches) > MAX_RESULTS else ":"
        )
        footer = (
            "\n[Too many results: narrow your query (a more specific pattern, a `path` or a `glob`).]"
            if len(matches) > MAX_RESULTS
            else ""
        )
        return ToolOutput(truncate_middle(header + "\n" + "\n".join(lines) + footer).text)

    @staticmethod
    def _kill(process: asyncio.subprocess.Process) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
