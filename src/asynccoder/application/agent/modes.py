"""The five modes: their system prompts, their ``submit`` tool and the mode-only tools.

System prompts carry no timestamps, ids or per-task values (those go in the first user message), so the
prefix tools + system is byte-identical across every task of a mode and stays in the provider's cache.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from asynccoder.application.agent.loop import SUBMIT, normalise_path
from asynccoder.application.ports.agent import AgentTool, ToolOutput
from asynccoder.domain.agent.diffs import FileDiff, Side, commentable_lines, validate_finding
from asynccoder.domain.ai import ToolDefinition
from asynccoder.domain.tasks import TaskMode

_COMMON = (
    "You are Async Coder, an autonomous software engineer working in a checkout of the user's repository. "
    "Work only through the tools. Paths are relative to the repository root. Read before you conclude; "
    "prefer small, focused steps. Tool outputs may be truncated: narrow your request when they are. "
    "Finish by calling `submit` exactly once with the fields it asks for. Keep code in plain text fields."
)

SYSTEM_PROMPTS: dict[TaskMode, str] = {
    TaskMode.ASK: _COMMON
    + "\n\nMode: Ask (read-only). Answer the user's question from the code itself. Open the files that "
    "matter, then submit a markdown answer that cites every file you relied on (`path` or `path:line`). "
    "Cite only files you actually read.",
    TaskMode.ARCHITECT: _COMMON
    + "\n\nMode: Architect (read-only). Produce an implementation plan grounded in this repository: the "
    "affected files (existing ones you read, and new ones you propose), and numbered steps. Do not edit.",
    TaskMode.DEBUG: _COMMON
    + "\n\nMode: Debug. Find the root cause of the reported problem and fix it with the smallest correct "
    "change. Run the repository's tests when a test command is given. When you submit, you will be shown "
    "your own diff once to review before it is committed and proposed as a pull request.",
    TaskMode.DOCUMENTATION: _COMMON
    + "\n\nMode: Documentation. Improve or add documentation only: markdown, reStructuredText, text files "
    "and files under docs/. Never change code. When you submit, you will be shown your diff once to review.",
    TaskMode.PR_REVIEW: _COMMON
    + "\n\nMode: PR Review (read-only). Review the pull request's diff. Report each real problem (bugs, "
    "security, broken contracts, missing tests) with `report_finding` on a new-side line number shown in "
    "the diff (a removed line with side LEFT; a range with start_line); findings outside the diff go to "
    "the review summary. No style nitpicks. Then submit "
    "a short summary.",
}

READ_ONLY_MODES = frozenset({TaskMode.ASK, TaskMode.ARCHITECT, TaskMode.PR_REVIEW})

_STRING_LIST = {"type": "array", "items": {"type": "string"}}

_SUBMIT_SCHEMAS: dict[TaskMode, tuple[str, dict[str, Any], tuple[str, ...]]] = {
    TaskMode.ASK: (
        "Finish with the answer.",
        {
            "answer": {"type": "string", "description": "The answer in markdown, citing files."},
            "cited_files": {**_STRING_LIST, "description": "Paths of the files the answer relies on."},
        },
        ("answer", "cited_files"),
    ),
    TaskMode.ARCHITECT: (
        "Finish with the plan.",
        {
            "plan": {"type": "string", "description": "The plan in markdown: approach and numbered steps."},
            "affected_files": {**_STRING_LIST, "description": "Existing files the plan changes."},
            "new_files": {**_STRING_LIST, "description": "Files the plan creates."},
        },
        ("plan", "affected_files"),
    ),
    TaskMode.DEBUG: (
        "Finish: your changes are reviewed, committed and proposed as a pull request.",
        {
            "title": {"type": "string", "description": "Pull request title, under 70 characters."},
            "summary": {"type": "string", "description": "Markdown: root cause, the fix, how it was tested."},
        },
        ("title", "summary"),
    ),
    TaskMode.DOCUMENTATION: (
        "Finish: your documentation changes are reviewed, committed and proposed as a pull request.",
        {
            "title": {"type": "string", "description": "Pull request title, under 70 characters."},
            "summary": {"type": "string", "description": "Markdown summary of the documentation changes."},
        },
        ("title", "summary"),
    ),
    TaskMode.PR_REVIEW: (
        "Finish the review.",
        {
            "summary": {"type": "string", "description": "Markdown summary of the review."},
            "event": {"type": "string", "enum": ["COMMENT", "REQUEST_CHANGES"]},
        },
        ("summary",),
    ),
}

# A mode's own check of a well-typed submit: an error text for the model, or None to accept it.
SubmitCheck = Callable[[dict[str, Any]], Awaitable[str | None]]


class SubmitTool(AgentTool):
    """``submit`` for one mode: checks field types, then the mode's own ``check`` (an error text or None)."""

    def __init__(self, mode: TaskMode, check: SubmitCheck | None = None) -> None:
        description, properties, required = _SUBMIT_SCHEMAS[mode]
        self._definition = ToolDefinition(
            SUBMIT,
            description,
            {"type": "object", "properties": properties, "required": list(required)},
        )
        self._properties = properties
        self._required = required
        self._check = check

    @property
    def definition(self) -> ToolDefinition:
        return self._definition

    async def run(self, arguments: dict[str, Any]) -> ToolOutput:
        for name in self._required:
            if name not in arguments:
                return ToolOutput(f"`{name}` is required.", is_error=True)
        for name, value in arguments.items():
            spec = self._properties.get(name)
            if spec is None:
                return ToolOutput(f"Unknown field `{name}`.", is_error=True)
            if spec["type"] == "string" and (not isinstance(value, str) or not value.strip()):
                return ToolOutput(f"`{name}` must be a non-empty string.", is_error=True)
            if spec["type"] == "string" and "enum" in spec and value not in spec["enum"]:
                return ToolOutput(f"`{name}` must be one of {', '.join(spec['enum'])}.", is_error=True)
            if spec["type"] == "array" and not (
                isinstance(value, list) and all(isinstance(v, str) for v in value)
            ):
                return ToolOutput(f"`{name}` must be a list of paths.", is_error=True)
        problem = await self._check(arguments) if self._check else None
        if problem:
            return ToolOutput(problem, is_error=True)
        return ToolOutput("Submitted.")


# --- Documentation: docs only ----------------------------------------------------------------------------
DOC_SUFFIXES = frozenset({".md", ".mdx", ".markdown", ".rst", ".txt", ".adoc", ".asciidoc"})
DOC_NAMES = frozenset({"README", "CHANGELOG", "CONTRIBUTING", "AUTHORS", "NOTICE", "HISTORY"})
_WRITE_COMMANDS = frozenset({"create", "str_replace", "insert", "write", "delete", "undo_edit"})


def is_doc_path(path: str) -> bool:
    pure = PurePosixPath(normalise_path(path))
    if pure.parts and pure.parts[0] in {"docs", "doc"}:
        return True
    return pure.suffix.lower() in DOC_SUFFIXES or pure.name.upper() in DOC_NAMES


class DocsOnlyEdits(AgentTool):
    """Wraps an editing tool so that it refuses to write a file that is not documentation."""

    def __init__(self, inner: AgentTool) -> None:
        self._inner = inner

    @property
    def definition(self) -> ToolDefinition:
        return self._inner.definition

    async def run(self, arguments: dict[str, Any]) -> ToolOutput:
        path = arguments.get("path")
        command = arguments.get("command")
        writes = command in _WRITE_COMMANDS or (command is None and "content" in arguments)
        if writes and isinstance(path, str) and not is_doc_path(path):
            return ToolOutput(
                f"Documentation tasks may change documentation only; `{path}` is not a documentation "
                "file (markdown, reStructuredText, text, or under docs/).",
                is_error=True,
            )
        return await self._inner.run(arguments)


# --- Debug: the repository's tests --------------------------------------------------------------------------
RUN_TESTS_FIRST = (
    "The repository has a test command: call `run_tests` to check your fix before you submit. If the "
    "tests fail for reasons unrelated to your change, say so in the summary and submit again."
)


@dataclass(frozen=True, slots=True)
class TestRun:
    __test__ = False  # not a pytest class

    passed: bool
    output: str


class RecordedTestRuns(AgentTool):
    """Wraps ``run_tests`` and keeps every run's outcome for the log and the pull request body."""

    __test__ = False  # not a pytest class

    def __init__(self, inner: AgentTool) -> None:
        self._inner = inner
        self.runs: list[TestRun] = []

    @property
    def definition(self) -> ToolDefinition:
        return self._inner.definition

    async def run(self, arguments: dict[str, Any]) -> ToolOutput:
        output = await self._inner.run(arguments)
        if arguments == {}:
            self.runs.append(TestRun(not output.is_error, output.text))
        return output


# --- PR Review: findings -----------------------------------------------------------------------------------
REPORT_FINDING = "report_finding"
FINDING_MARKER = "<!-- asynccoder:finding {} -->"
REVIEW_MARKER = "<!-- asynccoder:review head={} -->"


@dataclass(frozen=True, slots=True)
class Finding:
    """One reported problem: on ``line`` (from ``start_line`` when it spans several) of ``side`` (RIGHT =
    the new version, LEFT = removed lines by their old number); ``in_diff`` when the diff can carry it."""

    path: str
    line: int
    severity: str
    title: str
    body: str
    in_diff: bool
    side: str = "RIGHT"
    start_line: int | None = None

    @property
    def fingerprint(self) -> str:
        key = f"{self.path}\n{' '.join(self.title.lower().split())}"
        return hashlib.sha256(key.encode()).hexdigest()[:16]

    @property
    def where(self) -> str:
        span = f"{self.start_line}-{self.line}" if self.start_line is not None else str(self.line)
        return f"{self.path}:{span}" + (" (removed lines)" if self.side == "LEFT" else "")


@dataclass
class FindingsTool(AgentTool):
    """``report_finding``: validates the line (or line range) against the diff's commentable lines of its
    side; off-diff findings are kept for the review summary and the model is told so."""

    files: dict[str, FileDiff]
    findings: list[Finding] = field(default_factory=list)

    @property
    def definition(self) -> ToolDefinition:
        return ToolDefinition(
            REPORT_FINDING,
            "Report one problem in the pull request on lines shown in the diff: a new-side line number "
            "(side RIGHT, the default), or a removed line by its old number (side LEFT). For a problem "
            "spanning several lines give `start_line` too (the range must stay inside one hunk).",
            {
                "type": "object",
                "properties": {
                    "path": {"type": "string"},
                    "line": {"type": "integer", "description": "The (last) line number, from the diff."},
                    "start_line": {"type": "integer", "description": "First line of a multi-line range."},
                    "side": {
                        "type": "string",
                        "enum": ["RIGHT", "LEFT"],
                        "description": "RIGHT: added or unchanged lines (new numbers); LEFT: removed lines.",
                    },
                    "severity": {"type": "string", "enum": ["critical", "major", "minor"]},
                    "title": {"type": "string", "description": "One line."},
                    "body": {"type": "string", "description": "Why it is a problem and how to fix it."},
                },
                "required": ["path", "line", "severity", "title", "body"],
            },
        )

    async def run(self, arguments: dict[str, Any]) -> ToolOutput:
        path, line = arguments.get("path"), arguments.get("line")
        start, side = arguments.get("start_line"), arguments.get("side", "RIGHT")
        severity, title, body = arguments.get("severity"), arguments.get("title"), arguments.get("body")
        if not isinstance(path, str) or not isinstance(line, int) or isinstance(line, bool):
            return ToolOutput("`path` (string) and `line` (integer) are required.", is_error=True)
        if start is not None and not _is_int(start):
            return ToolOutput("`start_line` must be an integer when given.", is_error=True)
        if side not in {"RIGHT", "LEFT"}:
            return ToolOutput("`side` must be RIGHT or LEFT.", is_error=True)
        if severity not in {"critical", "major", "minor"}:
            return ToolOutput("`severity` must be critical, major or minor.", is_error=True)
        if not isinstance(title, str) or not title.strip() or not isinstance(body, str) or not body.strip():
            return ToolOutput("`title` and `body` must be non-empty strings.", is_error=True)
        path = normalise_path(path)
        if start == line:
            start = None
        check = validate_finding(self.files.values(), path=path, line=line, side=side, start_line=start)
        finding = Finding(path, line, severity, title.strip(), body.strip(), check.ok, side, start)
        self.findings.append(finding)
        if check.ok:
            return ToolOutput(f"Recorded as an inline comment on {finding.where}.")
        diff = self.files.get(path)
        if diff is None:
            return ToolOutput(f"Recorded for the review summary: {path} is not part of this diff.")
        lines = commentable_lines(diff).on(Side(side))
        return ToolOutput(
            f"Recorded for the review summary, outside the diff: {check.reason} "
            f"(commentable {side} lines: {_ranges(sorted(lines)) or 'none'})."
        )


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _ranges(lines: list[int]) -> str:
    spans: list[str] = []
    start = prev = lines[0] if lines else 0
    for n in lines[1:]:
        if n != prev + 1:
            spans.append(f"{start}-{prev}" if start != prev else str(start))
            start = n
        prev = n
    if lines:
        spans.append(f"{start}-{prev}" if start != prev else str(start))
    return ", ".join(spans)
