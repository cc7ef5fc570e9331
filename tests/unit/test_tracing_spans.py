"""The spans the composition root adds when tracing is on: a worker job is one ``task.run`` span, parent of
each model call's client span, on a tracer provider of the test's own (the process-wide one stays unset)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from asynccoder.adapters.ai.scripted import ScriptedChatModelFactory, text_turn
from asynccoder.adapters.observability.tracing import TracedChatModelFactory, TracedTaskRunner
from asynccoder.application.ports.task_execution import TaskOutcome
from asynccoder.domain.ai import ChatRequest, Message, ModelRef, Provider, ProviderOverloaded
from asynccoder.domain.tasks import TaskMode, TaskResult
from tests.support.builders import new_id

KEY_CANARY = "sk-ant-canary-in-a-span-9a9a"
REF = ModelRef(Provider.ANTHROPIC, "claude-scripted")
REQUEST = ChatRequest(model="claude-scripted", messages=(Message.user("Explain."),), max_tokens=64)


@pytest.fixture
def spans() -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


class CallingRunner:
    """A runner whose job makes the given number of model calls."""

    def __init__(self, factory: Any, calls: int) -> None:
        self.factory, self.calls = factory, calls

    async def run(self, execution: Any) -> TaskOutcome:
        model = self.factory.create(REF, api_key=KEY_CANARY)
        for _ in range(self.calls):
            await model.complete(REQUEST)
        return TaskOutcome(result=TaskResult("done"))


def _execution() -> Any:
    return SimpleNamespace(task_id=new_id(), mode=TaskMode.DEBUG, attempt=2)


async def test_a_worker_job_is_one_span_parent_of_each_model_call(spans: Any) -> None:
    provider, exporter = spans
    scripted = ScriptedChatModelFactory()
    scripted.model("claude-scripted").add(text_turn("one"), text_turn("two"))
    models = TracedChatModelFactory(scripted, tracer_provider=provider)
    execution = _execution()
    await TracedTaskRunner(CallingRunner(models, 2), tracer_provider=provider).run(execution)
    finished = exporter.get_finished_spans()
    [job] = [s for s in finished if s.name == "task.run"]
    calls = [s for s in finished if s.name == "chat anthropic"]
    assert job.kind is SpanKind.CONSUMER
    assert dict(job.attributes or {}) == {
        "asynccoder.task.id": str(execution.task_id),
        "asynccoder.task.mode": "debug",
        "asynccoder.task.attempt": 2,
    }
    assert len(calls) == 2
    for call in calls:
        assert call.kind is SpanKind.CLIENT
        assert call.parent is not None
        assert call.parent.span_id == job.context.span_id
        assert (call.attributes or {})["gen_ai.request.model"] == "claude-scripted"
    for span in finished:
        assert KEY_CANARY not in repr(dict(span.attributes or {}))


async def test_a_failed_model_call_is_an_error_span(spans: Any) -> None:
    provider, exporter = spans
    scripted = ScriptedChatModelFactory()
    scripted.model("claude-scripted").add(ProviderOverloaded("busy", provider="anthropic"))
    model = TracedChatModelFactory(scripted, tracer_provider=provider).create(REF, api_key=KEY_CANARY)
    with pytest.raises(ProviderOverloaded):
        await model.complete(REQUEST)
    [call] = exporter.get_finished_spans()
    assert call.status.status_code is StatusCode.ERROR
    assert [e.name for e in call.events] == ["exception"]
