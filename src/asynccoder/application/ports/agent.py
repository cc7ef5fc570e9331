"""Ports of the coding agent: the tools a model may call, the sandbox, the task's workspace."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from uuid import UUID

from asynccoder.application.ports.task_execution import GitCredentials, RepositoryCheckout
from asynccoder.domain.ai import ToolDefinition


@dataclass(frozen=True, slots=True)
class ToolOutput:
    """What a tool hands back to the model: deterministic text (same input, same bytes), failed or not.

    Error texts say what to do next ("0 matches; nearest lines: ..."), never a traceback or host path.
    """

    text: str
    is_error: bool = False


class AgentTool(Protocol):
    """One tool offered to the model. ``definition`` is stable (name, description, JSON schema) so the
    provider's prompt cache keeps hitting; ``run`` validates its own arguments and never raises
    for bad ones."""

    @property
    def definition(self) -> ToolDefinition: ...

    async def run(self, arguments: dict[str, Any]) -> ToolOutput: ...


@dataclass(frozen=True, slots=True)
class CommandResult:
    exit_code: int | None  # None when it was killed (timeout, cancel, limit)
    output: str  # stdout and stderr interleaved, already truncated deterministically
    timed_out: bool = False
    truncated: bool = False


class SandboxUnavailable(Exception):
    """No sandbox can be had on this host (bubblewrap missing, user namespaces blocked): commands are refused,
    never run on the host."""


class Sandbox(Protocol):
    """Runs one shell command in isolation: no network, read-only system, only ``workdir`` writable (its
    ``.git`` read-only), resource limits, a minimal environment with no secret; the whole process tree is
    killed on timeout. Raises ``SandboxUnavailable`` when isolation cannot be had."""

    async def available(self) -> bool: ...

    async def run(self, command: str, *, workdir: Path, timeout_seconds: float) -> CommandResult: ...


class Workspace(Protocol):
    """A task's fresh checkout on branch ``asynccoder/<task-id>`` (writing modes) or the base (read-only).

    Paths given to tools are relative to ``root``; nothing may resolve outside it.
    """

    @property
    def root(self) -> Path: ...

    @property
    def branch(self) -> str: ...

    @property
    def base_ref(self) -> str:
        """The commit the task started from (``git diff <base_ref>`` shows the task's changes)."""
        ...

    async def diff(self, *, against: str | None = None) -> str:
        """Unified diff of the working tree (untracked files included) against ``against`` or ``base_ref``."""
        ...

    async def changed_files(self) -> tuple[str, ...]: ...

    async def is_file(self, path: str) -> bool:
        """Whether ``path`` (relative to the root) is a regular file of the checkout: False for anything
        that resolves outside the root (``..``, absolute paths, symlinks leading out) or into ``.git``."""
        ...

    async def commit_and_push(self, message: str) -> str:
        """Commits everything as the platform identity, pushes the branch with lease
        (credentials fetched now), returns the commit sha."""
        ...


class WorkspaceFactory(Protocol):
    """Opens a task's fresh workspace (a new directory, a hardened shallow clone) and removes it on exit.

    ``writable`` checks out branch ``asynccoder/<task_id>`` from the base branch; otherwise ``ref`` (default:
    the base branch) is checked out read-only, or, when ``ref`` is None and the checkout names a pull request,
    that pull request's head (``refs/pull/<n>/head``, forks included). ``known_secrets`` (the user's stored
    keys, the platform's secrets) are scanned for, with common secret patterns and the git token, before every
    push: a hit raises ``Refused`` (code ``secret_detected``) with redacted excerpts and nothing is pushed.
    """

    def open(
        self,
        *,
        task_id: UUID,
        repository: RepositoryCheckout,
        credentials: GitCredentials,
        writable: bool,
        ref: str | None = None,
        known_secrets: Sequence[str] = (),
    ) -> AbstractAsyncContextManager[Workspace]: ...


class UserSecrets(Protocol):
    """The plaintext of the secrets a user stored with the platform (their own provider keys), for
    exact-match secret scanning only: never logged, stored or returned. Unreadable ones are skipped."""

    async def for_user(self, user_id: UUID) -> tuple[str, ...]: ...


# The tool that runs the repository's configured test command in the sandbox (no arguments).
RUN_TESTS = "run_tests"


class AgentToolbox(Protocol):
    """Builds the task's tools over its workspace: file viewer/editor and search always; edits only when not
    ``read_only``; the shell only when ``shell`` and the sandbox is available; ``run_tests`` (exactly
    ``test_command``, in the sandbox) only when ``test_command`` is given and the sandbox is available.
    Order and definitions are deterministic (prompt caching depends on it)."""

    def tools_for(
        self, workspace: Workspace, *, read_only: bool, shell: bool, test_command: str | None = None
    ) -> tuple[AgentTool, ...]: ...
