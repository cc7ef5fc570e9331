"""The agent loop: one linear, append-only conversation of tool calls until ``submit``, a limit, or a stop.

Frugality rules (prompt caching depends on them): the system prompt and the tool list are fixed for the whole
run; the history is only appended to (a wrap-up notice rides in the next user turn, never edits the past);
condensation is rare (past a fraction of the context window) and keeps the head and the recent turns.
"""

from __future__ import annotations

import asyncio
import enum
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from asynccoder.application.ports.agent import AgentTool, ToolOutput
from asynccoder.application.ports.system import Clock
from asynccoder.application.ports.task_execution import (
    BudgetExhausted,
    LogLevel,
    TaskCancelled,
    TaskExecution,
)
from asynccoder.domain.agent.stuck import Step, stuck_reason
from asynccoder.domain.ai import (
    ChatRequest,
    ChatResponse,
    ContentBlock,
    Message,
    MessageRole,
    TextBlock,
    ToolCall,
    ToolResult,
    Usage,
)

SUBMIT = "submit"

WRAP_UP_NOTICE = (
    "Budget notice: this task has nearly used its budget. Do not start new work. Call `submit` now with what "
    "you have; say what is done and what is left (hand-off notes)."
)
MALFORMED_NOTICE = (
    "Your reply called no tool. Every reply must call exactly the tools you need; call `submit` when done."
)


class LoopEnd(enum.StrEnum):
    SUBMITTED = "submitted"
    STEP_LIMIT = "step_limit"
    MALFORMED = "malformed"
    STUCK = "stuck"
    BUDGET = "budget"
    DEADLINE = "deadline"


@dataclass(frozen=True, slots=True)
class LoopLimits:
    """``max_steps`` model calls; ``max_malformed`` consecutive replies without a usable tool call;
    condensation once the history's estimated tokens pass ``condense_at`` of the context window, keeping the
    ``keep_recent`` latest messages; ``wrap_up_steps`` model calls after the wrap-up notice."""

    max_steps: int = 100
    max_malformed: int = 3
    condense_at: float = 0.7
    keep_recent: int = 12
    wrap_up_steps: int = 2


@dataclass
class LoopResult:
    end: LoopEnd
    steps: int
    submitted: dict[str, Any] | None = None
    reason: str = ""
    last_text: str = ""
    seen_paths: set[str] = field(default_factory=set)
    wrapped_up: bool = False
    condensations: int = 0


# Decides on an accepted-looking submit: None accepts it, a text is sent back as the tool's result.
SubmitHook = Callable[[dict[str, Any]], Awaitable[str | None]]


class AgentLoop:
    """Runs one conversation for one task execution. Raises ``TaskCancelled`` when cancelled; provider errors
    (after the model access's own retries and fallbacks) propagate."""

    def __init__(
        self,
        execution: TaskExecution,
        *,
        clock: Clock,
        system: str,
        tools: Sequence[AgentTool],
        limits: LoopLimits,
        on_submit: SubmitHook | None = None,
        seen_paths: set[str] | None = None,
    ) -> None:
        self._x = execution
        self._clock = clock
        self._system = system
        self._tools = {t.definition.name: t for t in tools}
        self._definitions = tuple(t.definition for t in tools)
        self._limits = limits
        self._on_submit = on_submit
        self.seen_paths = seen_paths if seen_paths is not None else set()
        self.messages: list[Message] = []

    async def run(self, task_prompt: str) -> LoopResult:
        x = self._x
        result = LoopResult(LoopEnd.STEP_LIMIT, 0, seen_paths=self.seen_paths)
        pending: list[ContentBlock] = [TextBlock(task_prompt)]
        history: list[Step] = []
        malformed = 0
        wrap_up_left: int | None = None
        while True:
            if x.cancellation.cancelled:
                raise TaskCancelled()
            if self._clock.now() >= x.deadline:
                return self._end(result, LoopEnd.DEADLINE, "the wall-clock limit passed")
            if wrap_up_left is None and x.budget.should_wrap_up:
                pending.append(TextBlock(WRAP_UP_NOTICE))
                wrap_up_left = self._limits.wrap_up_steps
                result.wrapped_up = True
                await x.log.write(LogLevel.WARNING, "budget nearly used: asked the model to wrap up")
            elif wrap_up_left is not None and wrap_up_left <= 0:
                return self._end(result, LoopEnd.BUDGET, "the budget ran out before the model submitted")
            if result.steps >= self._limits.max_steps:
                return self._end(result, LoopEnd.STEP_LIMIT, f"the step limit ({self._limits.max_steps})")
            self.messages.append(Message(MessageRole.USER, tuple(pending)))
            pending = []
            result.condensations += self._maybe_condense()
            try:
                response = await self._call()
            except BudgetExhausted:
                self.messages.pop()
                return self._end(result, LoopEnd.BUDGET, "the budget is exhausted")
            except _DeadlinePassed:
                self.messages.pop()
                return self._end(result, LoopEnd.DEADLINE, "the wall-clock limit passed")
            result.steps += 1
            if wrap_up_left is not None:
                wrap_up_left -= 1
            self.messages.append(Message(MessageRole.ASSISTANT, response.content or (TextBlock("(empty)"),)))
            if response.text.strip():
                result.last_text = response.text.strip()
            calls = response.tool_calls
            if not calls:
                malformed += 1
                await self._log_step(result.steps, response, None, None)
                if malformed >= self._limits.max_malformed:
                    return self._end(result, LoopEnd.MALFORMED, f"{malformed} malformed replies in a row")
                pending.append(TextBlock(MALFORMED_NOTICE))
                continue
            known = [c for c in calls if c.name in self._tools]
            malformed = malformed + 1 if not known else 0
            submitted: dict[str, Any] | None = None
            for index, call in enumerate(calls):
                output = await self._run_tool(call)
                if call.name == SUBMIT and not output.is_error:
                    verdict = await self._on_submit(call.arguments) if self._on_submit else None
                    if verdict is None:
                        submitted = call.arguments
                    else:
                        output = ToolOutput(verdict)
                pending.append(ToolResult(call.id, output.text, output.is_error))
                history.append(Step.of(call.name, call.arguments, output.text, failed=output.is_error))
                self._note_path(result, call, output)
                # The step's tokens and credits ride on its first line only, so lines can be summed.
                await self._log_step(result.steps, response, call, output, usage=index == 0)
            if submitted is not None:
                # Close the turn so the conversation stays well-formed if anyone continues it.
                self.messages.append(Message(MessageRole.USER, tuple(pending)))
                result.submitted = submitted
                return self._end(result, LoopEnd.SUBMITTED, "submitted")
            if malformed >= self._limits.max_malformed:
                return self._end(result, LoopEnd.MALFORMED, f"{malformed} malformed replies in a row")
            reason = stuck_reason(history)
            if reason is not None:
                return self._end(result, LoopEnd.STUCK, reason)

    async def _call(self) -> ChatResponse:
        """The model call raced against cancellation and the deadline."""
        x = self._x
        request = ChatRequest(
            model="",  # the task's model access picks the model
            messages=tuple(self.messages),
            system=self._system,
            tools=self._definitions,
            max_tokens=min(x.models.max_output_tokens, 8192),
            cache_key=str(x.task_id),
            cache_prefix=True,
        )
        call = asyncio.ensure_future(x.models.complete(request))
        cancelled = asyncio.ensure_future(x.cancellation.wait())
        remaining = max(0.0, (x.deadline - self._clock.now()).total_seconds())
        try:
            done, _ = await asyncio.wait(
                {call, cancelled}, timeout=remaining, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            cancelled.cancel()
        if call in done:
            return call.result()
        call.cancel()
        await asyncio.gather(call, return_exceptions=True)
        if cancelled in done or x.cancellation.cancelled:
            raise TaskCancelled()
        raise _DeadlinePassed()

    async def _run_tool(self, call: ToolCall) -> ToolOutput:
        tool = self._tools.get(call.name)
        if tool is None:
            names = ", ".join(sorted(self._tools))
            return ToolOutput(f"There is no tool named {call.name!r}. The tools are: {names}.", is_error=True)
        return await tool.run(call.arguments)

    def _note_path(self, result: LoopResult, call: ToolCall, output: ToolOutput) -> None:
        path = call.arguments.get("path")
        if isinstance(path, str) and not output.is_error and call.name != SUBMIT:
            result.seen_paths.add(normalise_path(path))

    def _maybe_condense(self) -> int:
        """Past the threshold: the first message (the task) gets a digest of the middle; recent turns stay."""
        budget_tokens = self._limits.condense_at * self._x.models.context_window
        if estimate_tokens(self.messages) <= budget_tokens:
            return 0
        keep = self._limits.keep_recent
        start = len(self.messages) - keep
        while start < len(self.messages) and self.messages[start].role is not MessageRole.ASSISTANT:
            start += 1
        if start <= 1 or start >= len(self.messages):
            return 0
        head, middle, recent = self.messages[0], self.messages[1:start], self.messages[start:]
        digest = "\n".join(_digest(middle))
        text = "".join(b.text for b in head.content if isinstance(b, TextBlock))
        condensed = Message.user(f"{text}\n\nEarlier steps (condensed):\n{digest}")
        self.messages = [condensed, *recent]
        return 1

    async def _log_step(
        self,
        step: int,
        response: ChatResponse,
        call: ToolCall | None,
        output: ToolOutput | None,
        *,
        usage: bool = True,
    ) -> None:
        calls = self._x.budget.calls()
        credits = calls[-1].cost_credits if calls and usage else 0
        tokens = response.usage if usage else Usage()
        data: dict[str, Any] = {
            "step": step,
            "tool": call.name if call else None,
            "arguments": summarise_arguments(call.arguments) if call else None,
            "result_chars": len(output.text) if output else 0,
            "is_error": output.is_error if output else True,
            "input_tokens": tokens.input_tokens,
            "output_tokens": tokens.output_tokens,
            "cache_read_tokens": tokens.cache_read_tokens,
            "cache_write_tokens": tokens.cache_write_tokens,
            "credits": credits,
        }
        what = call.name if call else "no tool call"
        await self._x.log.write(LogLevel.INFO, f"step {step}: {what}", data)

    def _end(self, result: LoopResult, end: LoopEnd, reason: str) -> LoopResult:
        result.end = end
        result.reason = reason
        return result


class _DeadlinePassed(Exception):
    pass


def normalise_path(path: str) -> str:
    parts = [p for p in path.replace("\\", "/").split("/") if p not in ("", ".")]
    return "/".join(parts)


def estimate_tokens(messages: Sequence[Message]) -> int:
    """About four characters per token over every block's text (cheap and deterministic)."""
    chars = 0
    for message in messages:
        for block in message.content:
            if isinstance(block, TextBlock):
                chars += len(block.text)
            elif isinstance(block, ToolCall):
                chars += len(json.dumps(block.arguments)) + len(block.name)
            else:
                chars += len(block.content)
    return chars // 4


def summarise_arguments(arguments: dict[str, Any], limit: int = 80) -> dict[str, Any]:
    """Small, log-safe view of a tool call's arguments: first line of each string, capped."""
    summary: dict[str, Any] = {}
    for key, value in sorted(arguments.items()):
        if isinstance(value, str):
            first = value.splitlines()[0] if value else ""
            summary[key] = first[:limit] + ("…" if len(first) > limit or "\n" in value else "")
        elif isinstance(value, int | float | bool) or value is None:
            summary[key] = value
        else:
            summary[key] = f"<{type(value).__name__}>"
    return summary


def _digest(messages: Sequence[Message]) -> list[str]:
    results: dict[str, ToolResult] = {
        b.tool_call_id: b for m in messages for b in m.content if isinstance(b, ToolResult)
    }
    lines: list[str] = []
    for message in messages:
        for block in message.content:
            if isinstance(block, ToolCall):
                args = json.dumps(summarise_arguments(block.arguments), sort_keys=True)
                found = results.get(block.id)
                outcome = "no result"
                if found is not None:
                    first = found.content.splitlines()[0][:100] if found.content else ""
                    outcome = ("error: " if found.is_error else "") + (first or "(empty)")
                lines.append(f"- {block.name} {args} -> {outcome}")
    return lines
