"""``SingleTurnRunner``: the runner used until the coding agent is wired in — one model call per task.

It answers ``ask`` and ``architect`` tasks from the instructions alone (no repository tools), and refuses the
modes that need the coding agent (they fail ``invalid_request`` with a message saying so, and are charged only
for what they used: nothing).
"""

from __future__ import annotations

from asynccoder.application.ports.task_execution import LogLevel, TaskExecution, TaskOutcome, TaskRunner
from asynccoder.domain.ai import ChatRequest, Message
from asynccoder.domain.tasks import FailureReason, TaskMode, TaskResult

_SYSTEM = {
    TaskMode.ASK: "You answer questions about the software repository {name}. Answer in Markdown.",
    TaskMode.ARCHITECT: (
        "You are a software architect. Write an implementation plan in Markdown for the repository {name}."
    ),
}


class SingleTurnRunner(TaskRunner):
    """One model call with the instructions; the answer is the task's result."""

    async def run(self, execution: TaskExecution) -> TaskOutcome:
        template = _SYSTEM.get(execution.mode)
        if template is None:
            return TaskOutcome(
                failure=FailureReason.INVALID_REQUEST,
                message=f"The {execution.mode.value} mode needs the coding agent, which is not enabled here.",
            )
        await execution.log.write(LogLevel.INFO, "Asking the model.", {"mode": execution.mode.value})
        request = ChatRequest(
            model="",
            system=template.format(name=execution.repository.full_name),
            messages=(Message.user(execution.instructions),),
            max_tokens=min(4_096, execution.models.max_output_tokens),
        )
        response = await execution.models.complete(request)
        await execution.log.write(
            LogLevel.INFO,
            "The model answered.",
            {"output_tokens": response.usage.output_tokens, "model": response.model},
        )
        return TaskOutcome(result=TaskResult(response.text or "(no answer)"))
