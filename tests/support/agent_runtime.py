"""Small, honest implementations of the agent's ports for tests: a workspace that is a real git clone of a
bare "remote", a few plain file tools, task model access with a fixed price per call, a log, a cancellation.

The integrator replaces the workspace and the tools with the agenttools helper's hardened ones; these exist so
the loop and the modes run end to end on real repositories here.
"""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

from asynccoder.adapters.ai.scripted import ScriptedChatModel, ScriptedTurn
from asynccoder.application.ports.agent import (
    AgentTool,
    AgentToolbox,
    CommandResult,
    Sandbox,
    ToolOutput,
    Workspace,
)
from asynccoder.application.ports.ai import ChatModel
from asynccoder.application.ports.task_execution import (
    BudgetExhausted,
    GitCredentials,
    LogLevel,
    ModelCall,
    RepositoryCheckout,
    TaskExecution,
)
from asynccoder.domain.ai import ChatRequest, ChatResponse, ToolCall, ToolDefinition, Usage
from asynccoder.domain.ai_catalogue import KeySource
from asynccoder.domain.tasks import TaskMode
from tests.support.git_repos import git

MODEL_ID = UUID("00000000-0000-7000-8000-0000000000aa")
USER_ID = UUID("0192d5a0-0000-7000-8000-000000000011")


# --- git workspace ------------------------------------------------------------------------------------------
def make_remote(root: Path, files: dict[str, str]) -> Path:
    """A bare repository ``remote.git`` whose ``main`` holds ``files``."""
    seed = root / "seed"
    seed.mkdir(parents=True)
    git("init", "--initial-branch=main", str(seed), cwd=root)
    for name, text in files.items():
        (seed / name).parent.mkdir(parents=True, exist_ok=True)
        (seed / name).write_text(text)
    git("add", ".", cwd=seed)
    git("commit", "-m", "init", cwd=seed)
    remote = root / "remote.git"
    git("clone", "--bare", str(seed), str(remote), cwd=root)
    return remote


class GitWorkspace(Workspace):
    def __init__(self, root: Path, branch: str, base_ref: str) -> None:
        self._root = root
        self._branch = branch
        self._base = base_ref
        self.pushed: list[str] = []

    @property
    def root(self) -> Path:
        return self._root

    @property
    def branch(self) -> str:
        return self._branch

    @property
    def base_ref(self) -> str:
        return self._base

    async def diff(self, *, against: str | None = None) -> str:
        git("add", "--intent-to-add", ".", cwd=self._root)
        return git("diff", against or self._base, cwd=self._root)

    async def changed_files(self) -> tuple[str, ...]:
        git("add", "--intent-to-add", ".", cwd=self._root)
        return tuple(git("diff", "--name-only", self._base, cwd=self._root).split())

    async def is_file(self, path: str) -> bool:
        found = _inside(self._root, path)
        return found is not None and found.is_file()

    async def commit_and_push(self, message: str) -> str:
        git("add", "-A", cwd=self._root)
        git("commit", "-m", message, cwd=self._root)
        git("push", "origin", f"HEAD:refs/heads/{self._branch}", cwd=self._root)
        sha = git("rev-parse", "HEAD", cwd=self._root).strip()
        self.pushed.append(sha)
        return sha


@dataclass
class LocalWorkspaces:
    """Clones ``remote`` into a fresh directory per task; writable tasks work on ``asynccoder/<task-id>``."""

    remote: Path
    scratch: Path
    opened: list[GitWorkspace] = field(default_factory=list)

    @asynccontextmanager
    async def open(
        self,
        *,
        task_id: UUID,
        repository: RepositoryCheckout,
        credentials: GitCredentials,
        writable: bool,
        ref: str | None = None,
        known_secrets: Sequence[str] = (),
    ) -> AsyncIterator[Workspace]:
        root = self.scratch / f"ws-{task_id}-{len(self.opened)}"
        git("clone", "--no-recurse-submodules", str(self.remote), str(root), cwd=self.scratch)
        if ref:
            git("checkout", "--detach", ref, cwd=root)
        base = git("rev-parse", "HEAD", cwd=root).strip()
        branch = f"asynccoder/{task_id}"
        if writable:
            git("checkout", "-b", branch, cwd=root)
        workspace = GitWorkspace(root, branch, base)
        self.opened.append(workspace)
        yield workspace


# --- tools --------------------------------------------------------------------------------------------------
def _inside(root: Path, relative: object) -> Path | None:
    if not isinstance(relative, str):
        return None
    base = root.resolve()
    target = (base / relative).resolve()
    return target if target.is_relative_to(base) else None


@dataclass
class ViewTool(AgentTool):
    root: Path

    @property
    def definition(self) -> ToolDefinition:
        return ToolDefinition(
            "view",
            "Show a file with numbered lines.",
            {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
        )

    async def run(self, arguments: dict[str, Any]) -> ToolOutput:
        path = _inside(self.root, arguments.get("path"))
        if path is None or not path.is_file():
            return ToolOutput(f"No file {arguments.get('path')!r}.", is_error=True)
        lines = path.read_text().splitlines()
        return ToolOutput("\n".join(f"{i:6}\t{line}" for i, line in enumerate(lines, 1)))


@dataclass
class EditTool(AgentTool):
    root: Path

    @property
    def definition(self) -> ToolDefinition:
        return ToolDefinition(
            "edit",
            "create a file, or str_replace an exact unique old_str with new_str.",
            {
                "type": "object",
                "properties": {
                    "command": {"type": "string", "enum": ["create", "str_replace"]},
                    "path": {"type": "string"},
                    "file_text": {"type": "string"},
                    "old_str": {"type": "string"},
                    "new_str": {"type": "string"},
                },
                "required": ["command", "path"],
            },
        )

    async def run(self, arguments: dict[str, Any]) -> ToolOutput:
        path = _inside(self.root, arguments.get("path"))
        if path is None:
            return ToolOutput("The path must stay inside the repository.", is_error=True)
        if arguments.get("command") == "create":
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(str(arguments.get("file_text", "")))
            return ToolOutput(f"Created {arguments['path']}.")
        if not path.is_file():
            return ToolOutput(f"No file {arguments.get('path')!r}.", is_error=True)
        text = path.read_text()
        old = str(arguments.get("old_str", ""))
        if not old or text.count(old) != 1:
            return ToolOutput(f"old_str must match exactly once; it matched {text.count(old)} times.", True)
        path.write_text(text.replace(old, str(arguments.get("new_str", ""))))
        return ToolOutput(f"Edited {arguments['path']}.")


class SimpleToolbox(AgentToolbox):
    def tools_for(
        self, workspace: Workspace, *, read_only: bool, shell: bool, test_command: str | None = None
    ) -> tuple[AgentTool, ...]:
        tools: list[AgentTool] = [ViewTool(workspace.root)]
        if not read_only:
            tools.append(EditTool(workspace.root))
        return tuple(tools)


@dataclass
class ScriptedSandbox(Sandbox):
    """Answers each command with the next scripted result and records what it was asked to run (the real
    bubblewrap sandbox has its own tests; this one lets the agent's use of it run where bwrap is missing)."""

    results: list[CommandResult]
    ran: list[tuple[str, Path, float]] = field(default_factory=list)

    async def available(self) -> bool:
        return True

    async def run(self, command: str, *, workdir: Path, timeout_seconds: float) -> CommandResult:
        self.ran.append((command, workdir, timeout_seconds))
        return self.results.pop(0)


# --- model access, budget, log, cancellation ------------------------------------------------------------
@dataclass
class FixedPriceBudget:
    cap_credits: int = 1_000
    spent_credits: int = 0
    recorded: list[ModelCall] = field(default_factory=list)

    @property
    def should_wrap_up(self) -> bool:
        return self.spent_credits * 10 >= self.cap_credits * 8

    def calls(self) -> tuple[ModelCall, ...]:
        return tuple(self.recorded)


@dataclass
class FixedPriceModels:
    """Each call costs ``credits_per_call``; a call that would pass the cap raises ``BudgetExhausted``.
    ``model`` fills in the request's model name, as the real model access does."""

    chat: ChatModel
    budget: FixedPriceBudget
    credits_per_call: int = 10
    model: str = "claude-sonnet-4-6"
    context_window: int = 200_000
    max_output_tokens: int = 8_192
    before_call: Callable[[], None] | None = None

    async def complete(self, request: ChatRequest) -> ChatResponse:
        if self.budget.spent_credits + self.credits_per_call > self.budget.cap_credits:
            raise BudgetExhausted()
        if self.before_call is not None:
            self.before_call()
        response = await self.chat.complete(_with_model(request, self.model))
        self.budget.spent_credits += self.credits_per_call
        u = response.usage
        self.budget.recorded.append(
            ModelCall(
                MODEL_ID,
                response.model,
                KeySource.PLATFORM,
                u.input_tokens,
                u.output_tokens,
                u.cache_read_tokens,
                u.cache_write_tokens,
                self.credits_per_call,
                self.credits_per_call,
                None,
            )
        )
        return response


def _with_model(request: ChatRequest, model: str) -> ChatRequest:
    from dataclasses import replace

    return replace(request, model=model)


@dataclass
class RecordingLog:
    lines: list[tuple[LogLevel, str, dict[str, Any] | None]] = field(default_factory=list)

    async def write(self, level: LogLevel, message: str, data: dict[str, Any] | None = None) -> None:
        self.lines.append((level, message, data))


class EventCancellation:
    def __init__(self) -> None:
        self._event = asyncio.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    async def wait(self) -> None:
        await self._event.wait()


class StaticCredentials:
    def __init__(self, token: str | None = "ghp-test-token") -> None:
        self._token = token

    async def token(self) -> str | None:
        return self._token


NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def make_execution(
    mode: TaskMode,
    models: FixedPriceModels,
    *,
    instructions: str = "Do the task.",
    task_id: UUID = UUID("0192d5a0-0000-7000-8000-000000000001"),
    repository_id: UUID = UUID("0192d5a0-0000-7000-8000-0000000000f0"),
    full_name: str = "octo/app",
    pull_request_number: int | None = None,
    deadline: datetime | None = None,
    cancellation: EventCancellation | None = None,
    log: RecordingLog | None = None,
    test_command: str | None = None,
) -> TaskExecution:
    return TaskExecution(
        task_id=task_id,
        user_id=USER_ID,
        mode=mode,
        instructions=instructions,
        attempt=1,
        repository=RepositoryCheckout(
            repository_id=repository_id,
            full_name=full_name,
            clone_url=f"https://github.com/{full_name}.git",
            base_branch="main",
            pull_request_number=pull_request_number,
            test_command=test_command,
        ),
        models=models,
        budget=models.budget,
        log=log or RecordingLog(),
        cancellation=cancellation or EventCancellation(),
        deadline=deadline or NOW + timedelta(hours=1),
        git_credentials=StaticCredentials(),
    )


def call(name: str, arguments: dict[str, Any], call_id: str = "c1", text: str = "") -> ScriptedTurn:
    return ScriptedTurn(text=text, tool_calls=(ToolCall(call_id, name, arguments),), usage=Usage(100, 20))


def scripted(*turns: ScriptedTurn | BaseException) -> ScriptedChatModel:
    return ScriptedChatModel(turns)


def no_secrets(text: str, known: Sequence[str] = ()) -> tuple[str, ...]:
    return ()


def exact_secrets(*secrets: str) -> Callable[[str, Sequence[str]], tuple[str, ...]]:
    """The scanner's exact-match part (``secrets`` and the ``known`` ones the agent passes), enough to prove
    the hook blocks publishing."""

    def scan(text: str, known: Sequence[str] = ()) -> tuple[str, ...]:
        return tuple(f"{s[:4]}…(redacted)" for s in (*secrets, *known) if s in text)

    return scan


def run_git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout
