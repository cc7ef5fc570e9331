"""The ``run_tests`` tool: the repository's configured test command, run in the sandbox like ``shell``.

Its definition carries no per-repository value (the command is named in the task's first message), so the
tool list stays byte-stable across tasks for the provider's prompt cache.
"""

from __future__ import annotations

from typing import Any

from asynccoder.adapters.agent_tools.schemas import definition
from asynccoder.application.ports.agent import RUN_TESTS, AgentTool, Sandbox, ToolOutput, Workspace
from asynccoder.domain.ai import ToolDefinition

DEFAULT_TEST_TIMEOUT_SECONDS = 600

RUN_TESTS_DEFINITION = definition(
    name=RUN_TESTS,
    description=(
        "Run the repository's own test command (named in the task) in the sandbox, from the repository "
        "root, with no network. Takes no arguments. Shows the exit code and the output (cut in the middle "
        "when over 10,000 characters). Run it after your fix and before you submit."
    ),
    input_schema={"type": "object", "properties": {}, "additionalProperties": False},
)


class SandboxTestCommandTool(AgentTool):
    """Runs exactly ``command``; raises ``SandboxUnavailable`` rather than run on the host."""

    def __init__(
        self,
        workspace: Workspace,
        sandbox: Sandbox,
        command: str,
        *,
        timeout_seconds: int = DEFAULT_TEST_TIMEOUT_SECONDS,
    ) -> None:
        self._workspace = workspace
        self._sandbox = sandbox
        self._command = command
        self._timeout = timeout_seconds

    @property
    def definition(self) -> ToolDefinition:
        return RUN_TESTS_DEFINITION

    async def run(self, arguments: dict[str, Any]) -> ToolOutput:
        if arguments:
            return ToolOutput("`run_tests` takes no arguments; call it with {}.", is_error=True)
        result = await self._sandbox.run(
            self._command, workdir=self._workspace.root, timeout_seconds=self._timeout
        )
        output = result.output if result.output else "(no output)\n"
        if result.timed_out:
            return ToolOutput(
                f"The tests timed out after {self._timeout} s and were killed.\n"
                f"Output before that:\n{output}",
                is_error=True,
            )
        if result.exit_code is None:
            return ToolOutput(f"The tests were killed (a resource limit).\n{output}", is_error=True)
        return ToolOutput(f"exit code {result.exit_code}\n{output}", is_error=result.exit_code != 0)
