"""Spans for the parts the composition root builds: SQL on an engine, each task run of a worker (the job), and
each model call (the provider call; the model SDKs use httpx2, which no OpenTelemetry instrumentation sees).

Imported only when tracing is on (``OTLP_ENDPOINT``); the tracer provider itself is installed per process by
``entrypoints.observability.configure_tracing``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from opentelemetry import trace
from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
from sqlalchemy.ext.asyncio import AsyncEngine

from asynccoder.application.ports.ai import ChatModel, ChatModelFactory
from asynccoder.application.ports.task_execution import TaskExecution, TaskOutcome, TaskRunner
from asynccoder.domain.ai import ChatRequest, ChatResponse, ModelRef, StreamEvent

SCOPE = "asynccoder"


def trace_sql(engine: AsyncEngine) -> None:
    """A span per statement with the SQL text only: parameters are bound, never part of ``db.statement``, and
    no comment with request context is appended to the SQL."""
    # The instrumentation declares SQLAlchemy < 2.1 and would silently do nothing on 2.1; it only listens to
    # engine events, which 2.1 keeps (the tracing tests prove the spans arrive).
    SQLAlchemyInstrumentor().instrument(
        engine=engine.sync_engine, enable_commenter=False, skip_dep_check=True
    )


class TracedTaskRunner(TaskRunner):
    """Runs each task attempt inside a ``task.run`` span (the worker job), parent of its SQL and model
    calls."""

    def __init__(self, inner: TaskRunner, tracer_provider: trace.TracerProvider | None = None) -> None:
        self._inner = inner
        self._tracer = trace.get_tracer(SCOPE, tracer_provider=tracer_provider)

    async def run(self, execution: TaskExecution) -> TaskOutcome:
        with self._tracer.start_as_current_span(
            "task.run",
            kind=trace.SpanKind.CONSUMER,
            attributes={
                "asynccoder.task.id": str(execution.task_id),
                "asynccoder.task.mode": execution.mode.value,
                "asynccoder.task.attempt": execution.attempt,
            },
        ):
            return await self._inner.run(execution)


class TracedChatModelFactory(ChatModelFactory):
    """Every model call is a client span ``chat <provider>`` with the requested and the answering model."""

    def __init__(self, inner: ChatModelFactory, tracer_provider: trace.TracerProvider | None = None) -> None:
        self._inner = inner
        self._tracer = trace.get_tracer(SCOPE, tracer_provider=tracer_provider)

    def create(self, ref: ModelRef, *, api_key: str) -> ChatModel:
        return _TracedChatModel(self._inner.create(ref, api_key=api_key), ref, self._tracer)


class _TracedChatModel(ChatModel):
    def __init__(self, inner: ChatModel, ref: ModelRef, tracer: trace.Tracer) -> None:
        self._inner, self._ref, self._tracer = inner, ref, tracer

    def _span(self) -> trace.Span:
        return self._tracer.start_span(
            f"chat {self._ref.provider.value}",
            kind=trace.SpanKind.CLIENT,
            attributes={"gen_ai.system": self._ref.provider.value, "gen_ai.request.model": self._ref.model},
        )

    async def complete(self, request: ChatRequest) -> ChatResponse:
        with trace.use_span(self._span(), end_on_exit=True) as span:
            response = await self._inner.complete(request)
            span.set_attribute("gen_ai.response.model", response.model)
            return response

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        with trace.use_span(self._span(), end_on_exit=True):
            async for event in self._inner.stream(request):
                yield event
