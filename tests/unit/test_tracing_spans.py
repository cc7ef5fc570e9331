"""The spans the composition root adds when tracing is on: a worker job is one ``task.run`` span, parent of
each use case's span, parent of each model call's client span, on a tracer provider of the test's own (the
process-wide one stays unset)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from asynccoder.adapters.ai.scripted import ScriptedChatModelFactory, text_turn
from asynccoder.adapters.observability.tracing import (
    TracedChatModelFactory,
    TracedTaskRunner,
    TracedUseCase,
)
from asynccoder.application.health.check_readiness import CheckReadiness
from asynccoder.application.identity.sessions import LogIn
from asynccoder.application.outbound_webhooks.delivery import DeliverWebhooks
from asynccoder.application.ports.system import Clock
from asynccoder.application.ports.task_execution import TaskOutcome
from asynccoder.application.tasks.submit import SubmitTask
from asynccoder.domain.ai import ChatRequest, Message, ModelRef, Provider, ProviderOverloaded
from asynccoder.domain.errors import NotFound
from asynccoder.domain.tasks import TaskMode, TaskResult
from asynccoder.entrypoints.observability import starts_a_trace
from asynccoder.ioc.core import InMemoryPersistenceProvider, default_providers, make_container, use_case_types
from tests.support.app import make_settings
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


class FindThings:
    """A use case of the test's own: makes one model call, then fails as told."""

    def __init__(self, factory: Any, failure: Exception | None = None) -> None:
        self.factory, self.failure, self.label = factory, failure, "find"

    async def __call__(self, command: Any) -> str:
        await self.factory.create(REF, api_key=KEY_CANARY).complete(REQUEST)
        if self.failure is not None:
            raise self.failure
        return "found"


async def test_a_use_case_is_a_span_named_by_its_class_between_the_job_and_its_provider_calls(
    spans: Any,
) -> None:
    provider, exporter = spans
    scripted = ScriptedChatModelFactory()
    scripted.model("claude-scripted").add(text_turn("one"))
    models = TracedChatModelFactory(scripted, tracer_provider=provider)
    use_case = TracedUseCase(FindThings(models), tracer_provider=provider)

    class UseCaseRunner:
        async def run(self, execution: Any) -> TaskOutcome:
            assert await use_case({"password": KEY_CANARY}) == "found"
            return TaskOutcome(result=TaskResult("done"))

    await TracedTaskRunner(UseCaseRunner(), tracer_provider=provider).run(_execution())
    finished = {s.name: s for s in exporter.get_finished_spans()}
    job, found, call = finished["task.run"], finished["FindThings"], finished["chat anthropic"]
    assert found.kind == SpanKind.INTERNAL
    assert found.parent is not None
    assert found.parent.span_id == job.context.span_id
    assert call.parent is not None
    assert call.parent.span_id == found.context.span_id
    assert dict(found.attributes or {}) == {"asynccoder.use_case": "FindThings"}
    assert found.status.status_code == StatusCode.UNSET
    assert use_case.label == "find", "the wrapped use case's own attributes stay reachable"


async def test_a_domain_error_is_an_outcome_and_any_other_error_fails_the_use_case_span(
    spans: Any,
) -> None:
    provider, exporter = spans
    scripted = ScriptedChatModelFactory()
    scripted.model("claude-scripted").add(text_turn("one"), text_turn("two"))
    models = TracedChatModelFactory(scripted, tracer_provider=provider)
    with pytest.raises(NotFound):
        await TracedUseCase(FindThings(models, NotFound("No such thing.")), tracer_provider=provider)(None)
    with pytest.raises(RuntimeError):
        await TracedUseCase(FindThings(models, RuntimeError("boom")), tracer_provider=provider)(
            {"api_key": KEY_CANARY}
        )
    refused, failed = [s for s in exporter.get_finished_spans() if s.name == "FindThings"]
    assert dict(refused.attributes or {})["error.type"] == "NotFound"
    assert refused.status.status_code == StatusCode.UNSET
    assert not refused.events
    assert failed.status.status_code == StatusCode.ERROR
    assert [e.name for e in failed.events] == ["exception"]
    assert KEY_CANARY not in repr(
        [(s.attributes, [e.attributes for e in s.events]) for s in (refused, failed)]
    )


def test_only_units_of_work_start_a_trace() -> None:
    assert starts_a_trace(SpanKind.SERVER)
    assert starts_a_trace(SpanKind.CONSUMER)
    assert not starts_a_trace(SpanKind.CLIENT), "a lone SQL statement or HTTP call"
    assert not starts_a_trace(SpanKind.INTERNAL), "a polled use case (DeliverWebhooks)"


async def test_with_tracing_on_the_container_hands_out_every_use_case_traced() -> None:
    found = use_case_types(default_providers())
    assert {LogIn, SubmitTask, DeliverWebhooks, CheckReadiness} <= set(found)
    assert not [t for t in found if t.__module__.startswith("asynccoder.application.ports")]
    for settings, traced in (
        (make_settings(otlp_endpoint="http://127.0.0.1:9/v1/traces"), True),
        (make_settings(), False),
    ):
        container = make_container(settings, InMemoryPersistenceProvider())
        try:
            async with container() as request:
                log_in = await request.get(LogIn)
                assert isinstance(log_in, TracedUseCase) is traced
                assert isinstance(await request.get(Clock), TracedUseCase) is False
        finally:
            await container.close()
