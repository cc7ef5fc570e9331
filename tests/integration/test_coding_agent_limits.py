"""The loop's limits, each proven with a scripted model on a real git checkout: steps, malformed replies,
stuck detection, budget wrap-up and exhaustion, the wall clock, cancellation, condensation and step logs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from asynccoder.adapters.ai.scripted import ScriptedChatModel, text_turn
from asynccoder.adapters.memory.code_hosting import InMemoryCodeHost
from asynccoder.adapters.memory.store import InMemoryStore
from asynccoder.adapters.memory.uow import InMemoryUnitOfWork
from asynccoder.application.agent.coding_agent import CodingAgent
from asynccoder.application.agent.loop import MALFORMED_NOTICE, WRAP_UP_NOTICE, LoopLimits
from asynccoder.application.ports.ai import ChatModel
from asynccoder.application.ports.task_execution import LogLevel, TaskCancelled
from asynccoder.domain.ai import ChatRequest, ChatResponse, StreamDone, StreamEvent, TextBlock
from asynccoder.domain.tasks import FailureReason, TaskMode
from tests.support.agent_runtime import (
    NOW,
    EventCancellation,
    FixedPriceBudget,
    FixedPriceModels,
    LocalWorkspaces,
    RecordingLog,
    SimpleToolbox,
    call,
    make_execution,
    make_remote,
    no_secrets,
    scripted,
)
from tests.support.system import ManualClock, SequentialIdGenerator


@pytest.fixture
def workspaces(tmp_path: Path) -> LocalWorkspaces:
    remote = make_remote(
        tmp_path / "origin", {"app.py": "x = 1\n", "notes.md": "# Notes\n", "lib.py": "y = 2\n"}
    )
    (tmp_path / "work").mkdir()
    return LocalWorkspaces(remote, tmp_path / "work")


def agent(workspaces: LocalWorkspaces, clock: ManualClock | None = None, **limits: int) -> CodingAgent:
    return CodingAgent(
        workspaces=workspaces,
        toolbox=SimpleToolbox(),
        code_host=InMemoryCodeHost(),
        uow=InMemoryUnitOfWork(InMemoryStore()),
        clock=clock or ManualClock(NOW),
        ids=SequentialIdGenerator(),
        scan_secrets=no_secrets,
        limits=LoopLimits(**limits),  # type: ignore[arg-type]
    )


def views(n: int) -> list[object]:
    """Steps that make progress: three files in turn (two alternating would look stuck)."""
    paths = ("notes.md", "app.py", "lib.py")
    return [call("view", {"path": paths[i % 3]}, call_id=f"c{i}") for i in range(n)]


async def test_the_step_limit_ends_the_task_with_a_partial_result_and_hand_off_notes(
    workspaces: LocalWorkspaces,
) -> None:
    chat = ScriptedChatModel(views(10))  # type: ignore[arg-type]
    execution = make_execution(TaskMode.ASK, FixedPriceModels(chat, FixedPriceBudget()))

    outcome = await agent(workspaces, max_steps=5).run(execution)

    assert len(chat.requests) == 5
    assert outcome.failure is None
    assert outcome.result is not None
    assert outcome.result.partial
    assert "## Hand-off notes" in outcome.result.summary_markdown
    assert "the step limit (5)" in outcome.result.summary_markdown
    assert "- `app.py`" in outcome.result.summary_markdown


async def test_three_consecutive_malformed_replies_stop_the_task(workspaces: LocalWorkspaces) -> None:
    chat = scripted(
        text_turn("thinking"),
        call("view", {"path": "app.py"}),
        text_turn("a"),
        text_turn("b"),
        text_turn("c"),
    )
    execution = make_execution(TaskMode.ASK, FixedPriceModels(chat, FixedPriceBudget()))

    outcome = await agent(workspaces).run(execution)

    assert outcome.failure is FailureReason.PROVIDER_ERROR
    assert outcome.message is not None
    assert "3 malformed replies" in outcome.message
    assert len(chat.requests) == 5  # the good reply in between reset the count
    notice = chat.requests[1].messages[-1].content[-1]
    assert isinstance(notice, TextBlock)
    assert notice.text == MALFORMED_NOTICE


async def test_two_actions_alternating_with_the_same_results_stop_as_stuck(
    workspaces: LocalWorkspaces,
) -> None:
    paths = ("app.py", "notes.md")
    chat = scripted(*(call("view", {"path": paths[i % 2]}, call_id=f"c{i}") for i in range(10)))
    execution = make_execution(TaskMode.ASK, FixedPriceModels(chat, FixedPriceBudget()))

    outcome = await agent(workspaces).run(execution)

    assert len(chat.requests) == 6
    assert outcome.result is not None
    assert "two actions alternated" in outcome.result.summary_markdown


async def test_four_identical_action_result_pairs_stop_with_hand_off_notes(
    workspaces: LocalWorkspaces,
) -> None:
    chat = scripted(*(call("view", {"path": "app.py"}, call_id=f"c{i}") for i in range(6)))
    execution = make_execution(TaskMode.ASK, FixedPriceModels(chat, FixedPriceBudget()))

    outcome = await agent(workspaces).run(execution)

    assert len(chat.requests) == 4
    assert outcome.result is not None
    assert outcome.result.partial
    assert "same result 4 times" in outcome.result.summary_markdown


async def test_three_identical_failing_actions_stop(workspaces: LocalWorkspaces) -> None:
    chat = scripted(*(call("view", {"path": "missing.py"}, call_id=f"c{i}") for i in range(5)))
    execution = make_execution(TaskMode.ASK, FixedPriceModels(chat, FixedPriceBudget()))

    outcome = await agent(workspaces).run(execution)

    assert len(chat.requests) == 3
    assert outcome.result is not None
    assert "failed 3 times" in outcome.result.summary_markdown


async def test_at_the_wrap_up_signal_the_model_is_told_once_and_its_submit_is_a_partial_result(
    workspaces: LocalWorkspaces,
) -> None:
    chat = scripted(
        *views(8),
        call("submit", {"answer": "Partly answered; left: notes.md.", "cited_files": ["app.py"]}),
    )
    budget = FixedPriceBudget(cap_credits=100)
    execution = make_execution(TaskMode.ASK, FixedPriceModels(chat, budget, credits_per_call=10))

    outcome = await agent(workspaces).run(execution)

    notices = [
        i
        for i, r in enumerate(chat.requests)
        for b in r.messages[-1].content
        if isinstance(b, TextBlock) and b.text == WRAP_UP_NOTICE
    ]
    assert notices == [8]  # told once, when 80 of 100 credits were spent
    assert outcome.failure is None
    assert outcome.result is not None
    assert outcome.result.partial
    assert outcome.result.summary_markdown.startswith("Partly answered")


async def test_a_model_that_ignores_the_wrap_up_ends_with_hand_off_notes_before_the_cap(
    workspaces: LocalWorkspaces,
) -> None:
    chat = scripted(*views(20))
    budget = FixedPriceBudget(cap_credits=100)
    execution = make_execution(TaskMode.ASK, FixedPriceModels(chat, budget, credits_per_call=10))

    outcome = await agent(workspaces, wrap_up_steps=2).run(execution)

    assert len(chat.requests) == 10
    assert budget.spent_credits == 100
    assert outcome.result is not None
    assert outcome.result.partial
    assert "budget ran out" in outcome.result.summary_markdown


async def test_budget_exhausted_from_the_model_access_gives_a_partial_result(
    workspaces: LocalWorkspaces,
) -> None:
    chat = scripted(*views(5))
    budget = FixedPriceBudget(cap_credits=25)  # the third call would pass the cap
    execution = make_execution(TaskMode.ASK, FixedPriceModels(chat, budget, credits_per_call=10))

    outcome = await agent(workspaces).run(execution)

    assert len(chat.requests) == 2
    assert outcome.failure is None
    assert outcome.result is not None
    assert outcome.result.partial
    assert "budget is exhausted" in outcome.result.summary_markdown


class HangingChatModel(ChatModel):
    """Never answers: only cancellation or the deadline can end the wait."""

    def __init__(self) -> None:
        self.started = asyncio.Event()

    async def complete(self, request: ChatRequest) -> ChatResponse:
        self.started.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        yield StreamDone(await self.complete(request))


async def test_cancellation_during_a_model_call_ends_the_run_promptly(workspaces: LocalWorkspaces) -> None:
    hanging = HangingChatModel()
    cancellation = EventCancellation()
    execution = make_execution(
        TaskMode.ASK, FixedPriceModels(hanging, FixedPriceBudget()), cancellation=cancellation
    )
    run = asyncio.ensure_future(agent(workspaces).run(execution))
    await hanging.started.wait()

    cancellation.cancel()

    with pytest.raises(TaskCancelled):
        await run


async def test_cancellation_is_checked_between_steps(workspaces: LocalWorkspaces) -> None:
    cancellation = EventCancellation()
    chat = scripted(*views(5))
    models = FixedPriceModels(chat, FixedPriceBudget(), before_call=lambda: None)
    execution = make_execution(TaskMode.ASK, models, cancellation=cancellation)
    models.before_call = lambda: cancellation.cancel() if len(chat.requests) == 1 else None

    with pytest.raises(TaskCancelled):
        await agent(workspaces).run(execution)

    assert len(chat.requests) == 2  # the second call was already under way; no third step started


async def test_the_wall_clock_limit_ends_the_task_as_a_timeout_with_notes(
    workspaces: LocalWorkspaces,
) -> None:
    clock = ManualClock(NOW)
    chat = scripted(*views(5))
    models = FixedPriceModels(
        chat, FixedPriceBudget(), before_call=lambda: clock.advance(timedelta(minutes=20))
    )
    execution = make_execution(TaskMode.ASK, models, deadline=NOW + timedelta(minutes=30))

    outcome = await agent(workspaces, clock).run(execution)

    assert len(chat.requests) == 2
    assert outcome.failure is FailureReason.TIMEOUT
    assert outcome.result is not None
    assert "wall-clock limit" in outcome.result.summary_markdown


async def test_a_model_call_still_running_at_the_deadline_is_abandoned(workspaces: LocalWorkspaces) -> None:
    hanging = HangingChatModel()
    execution = make_execution(
        TaskMode.ASK, FixedPriceModels(hanging, FixedPriceBudget()), deadline=NOW + timedelta(milliseconds=50)
    )

    outcome = await agent(workspaces).run(execution)

    assert outcome.failure is FailureReason.TIMEOUT


async def test_every_step_is_logged_with_tool_arguments_sizes_tokens_and_credits(
    workspaces: LocalWorkspaces,
) -> None:
    log = RecordingLog()
    chat = scripted(
        call("view", {"path": "app.py"}), call("submit", {"answer": "x is 1", "cited_files": ["app.py"]})
    )
    execution = make_execution(TaskMode.ASK, FixedPriceModels(chat, FixedPriceBudget()), log=log)

    await agent(workspaces).run(execution)

    steps = [(level, data) for level, message, data in log.lines if message.startswith("step ")]
    assert len(steps) == 2
    level, data = steps[0]
    assert level is LogLevel.INFO
    assert data is not None
    assert data["tool"] == "view"
    assert data["arguments"] == {"path": "app.py"}
    assert data["result_chars"] > 0
    assert data["input_tokens"] == 100
    assert data["credits"] == 10
    assert {"cache_read_tokens", "cache_write_tokens", "output_tokens"} <= data.keys()


async def test_past_the_threshold_the_middle_is_condensed_into_the_first_message(
    workspaces: LocalWorkspaces,
) -> None:
    chat = scripted(*views(8), call("submit", {"answer": "done", "cited_files": ["app.py"]}, call_id="s"))
    models = FixedPriceModels(chat, FixedPriceBudget(), context_window=50)

    outcome = await agent(workspaces, keep_recent=4, condense_at=1).run(make_execution(TaskMode.ASK, models))

    assert outcome.result is not None
    assert not outcome.result.partial
    condensed = [r for r in chat.requests if "Earlier steps (condensed)" in str(r.messages[0].content[0])]
    assert condensed, "the history was never condensed"
    last = chat.requests[-1]
    assert len(last.messages) <= 5
    assert last.messages[1].role.value == "assistant"
    first = last.messages[0].content[0]
    assert isinstance(first, TextBlock)
    assert "- view" in first.text
    assert "Task:" in first.text
