"""Spans for the parts the composition root builds: SQL on an engine, each use case call, each task run of a
worker (the job), and each model call (the provider call; the model SDKs use httpx2, which no OpenTelemetry
instrumentation sees).

Imported only when tracing is on (``OTLP_ENDPOINT``); the tracer provider itself is installed per process by
``entrypoints.observability.configure_tracing``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from opentelemetry import trace
from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
from sqlalchemy.ext.asyncio import AsyncEngine

from asynccoder.application.ports.ai import ChatModel, ChatModelFactory
from asynccoder.application.ports.task_execution import TaskExecution, TaskOutcome, TaskRunner
from asynccoder.domain.ai import ChatRequest, ChatResponse, ModelRef, StreamEvent
from asynccoder.domain.errors import DomainError

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


class TracedUseCase:
    """A use case called inside an ``INTERNAL`` span named by its class (``LogIn``, ``SubmitTask``): the link
    between the HTTP span (or the worker's ``task.run``) and the SQL and provider calls the use case makes.

    Only the use case's name goes on the span, never its command (which carries passwords, keys and bodies).
    A domain error (a 4xx answer) is an outcome, not a failure: it is named in ``error.type`` and the span
    stays unset; any other exception is recorded on the span (type, message and traceback, no frame locals)
    and marks it as an error. Every other attribute is the wrapped use case's own."""

    def __init__(self, inner: Any, tracer_provider: trace.TracerProvider | None = None) -> None:
        self._inner = inner
        self._name = type(inner).__name__
        self._tracer = trace.get_tracer(SCOPE, tracer_provider=tracer_provider)

    async def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with self._tracer.start_as_current_span(
            self._name,
            kind=trace.SpanKind.INTERNAL,
            attributes={"asynccoder.use_case": self._name},
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            try:
                return await self._inner(*args, **kwargs)
            except DomainError as error:
                span.set_attribute("error.type", type(error).__name__)
                raise
            except BaseException as error:
                span.record_exception(error)
                span.set_status(trace.Status(trace.StatusCode.ERROR, type(error).__name__))
                raise

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)
