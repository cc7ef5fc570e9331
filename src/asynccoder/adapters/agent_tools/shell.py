"""The ``shell`` tool: one command in the sandbox, a fresh shell each time (nothing persists but files)."""

from __future__ import annotations

from typing import Any

from asynccoder.adapters.agent_tools.schemas import definition
from asynccoder.application.ports.agent import AgentTool, Sandbox, ToolOutput, Workspace
from asynccoder.domain.ai import ToolDefinition

DEFAULT_TIMEOUT_SECONDS = 120
MAX_TIMEOUT_SECONDS = 600

SHELL_DEFINITION = definition(
    name="shell",
    description=(
        "Run one shell command (/bin/sh) in a sandbox whose working directory is the repository, mounted at "
        "/workspace. There is no network; only the repository is writable (.git is read-only; /tmp is "
        "scratch space). Each call starts a fresh shell: `cd` and `export` do not carry over, background "
        "processes end with the command. Output over 10,000 characters is cut in the middle; prefer "
        "commands with short output (grep -n, head, tail, sed -n 'A,Bp')."
    ),
    input_schema={
        "type": "object",
        "properties": {
            "command": {"type": "string", "description": "The command line to run."},
            "timeout_seconds": {
                "type": "integer",
                "minimum": 1,
                "maximum": MAX_TIMEOUT_SECONDS,
                "description": f"Optional limit in seconds (default {DEFAULT_TIMEOUT_SECONDS}).",
            },
        },
        "required": ["command"],
        "additionalProperties": False,
    },
)


class SandboxShellTool(AgentTool):
    """Raises ``SandboxUnavailable`` (the task fails ``sandbox_unavailable``) rather than run on the host."""

    def __init__(
        self,
        workspace: Workspace,
        sandbox: Sandbox,
        *,
        default_timeout_seconds: int = DEFAULT_TIMEOUT_SECONDS,
        max_timeout_seconds: int = MAX_TIMEOUT_SECONDS,
    ) -> None:
        self._workspace = workspace
        self._sandbox = sandbox
        self._default = default_timeout_seconds
        self._max = max_timeout_seconds

    @property
    def definition(self) -> ToolDefinition:
        return SHELL_DEFINITION

    async def run(self, arguments: dict[str, Any]) -> ToolOutput:
        if not isinstance(arguments, dict):
            return ToolOutput("The arguments must be an object.", is_error=True)
        command = arguments.get("command")
        if not isinstance(command, str) or not command.strip():
            return ToolOutput("`command` is required: the shell command line to run.", is_error=True)
        if "\0" in command:
            return ToolOutput("The command contains a NUL byte.", is_error=True)
        timeout = arguments.get("timeout_seconds", self._default)
        if not isinstance(timeout, int) or isinstance(timeout, bool) or not 1 <= timeout <= self._max:
            return ToolOutput(
                f"`timeout_seconds` must be a whole number from 1 to {self._max}.", is_error=True
            )
        result = await self._sandbox.run(command, workdir=self._workspace.root, timeout_seconds=timeout)
        output = result.output if result.output else "(no output)\n"
        if result.timed_out:
            return ToolOutput(
                f"The command timed out after {timeout} s and was killed with everything it started.\n"
                f"Output before that:\n{output}",
                is_error=True,
            )
        if result.exit_code is None:
            return ToolOutput(f"The command was killed (a resource limit).\n{output}", is_error=True)
        return ToolOutput(f"exit code {result.exit_code}\n{output}", is_error=result.exit_code != 0)
