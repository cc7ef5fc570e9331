"""The ``AgentToolbox``: the task's tools over its workspace, in a fixed order with fixed definitions.

Writing modes get ``edit`` (view/create/str_replace/insert), read-only modes ``view``; ``search`` always;
``shell`` only when asked for and a sandbox is available; ``run_tests`` for a writing task when the repository
has a test command and a sandbox is available. Tools are sorted by name so the provider's prompt
cache sees the same bytes on every step of every task.
"""

from __future__ import annotations

from asynccoder.adapters.agent_tools.editor import FileEditorTool
from asynccoder.adapters.agent_tools.search import RipgrepSearchTool
from asynccoder.adapters.agent_tools.shell import DEFAULT_TIMEOUT_SECONDS, SandboxShellTool
from asynccoder.adapters.agent_tools.test_runner import SandboxTestCommandTool
from asynccoder.application.ports.agent import AgentTool, AgentToolbox, Sandbox, Workspace


class WorkspaceToolbox(AgentToolbox):
    """``sandbox`` is None when there is none: the shell is then never offered."""

    def __init__(
        self,
        sandbox: Sandbox | None,
        *,
        ripgrep: str = "rg",
        shell_timeout_seconds: int = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        self._sandbox = sandbox
        self._ripgrep = ripgrep
        self._shell_timeout = shell_timeout_seconds

    @classmethod
    async def probing(
        cls, sandbox: Sandbox, *, ripgrep: str = "rg", shell_timeout_seconds: int = DEFAULT_TIMEOUT_SECONDS
    ) -> WorkspaceToolbox:
        """A toolbox that offers the shell only if ``sandbox`` is really available on this host."""
        available = await sandbox.available()
        return cls(
            sandbox if available else None, ripgrep=ripgrep, shell_timeout_seconds=shell_timeout_seconds
        )

    @property
    def shell_available(self) -> bool:
        return self._sandbox is not None

    def tools_for(
        self, workspace: Workspace, *, read_only: bool, shell: bool, test_command: str | None = None
    ) -> tuple[AgentTool, ...]:
        tools: list[AgentTool] = [
            FileEditorTool(workspace, read_only=read_only),
            RipgrepSearchTool(workspace, ripgrep=self._ripgrep),
        ]
        if shell and self._sandbox is not None:
            tools.append(
                SandboxShellTool(workspace, self._sandbox, default_timeout_seconds=self._shell_timeout)
            )
        if test_command and not read_only and self._sandbox is not None:
            tools.append(SandboxTestCommandTool(workspace, self._sandbox, test_command))
        return tuple(sorted(tools, key=lambda tool: tool.definition.name))
