"""Spans for the parts the composition root builds: SQL on an engine, and each task run of a worker.

Imported only when tracing is on (``OTLP_ENDPOINT``); the tracer provider itself is installed per process by
``entrypoints.observability.configure_tracing``.
"""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
from sqlalchemy.ext.asyncio import AsyncEngine

from asynccoder.application.ports.task_execution import TaskExecution, TaskOutcome, TaskRunner

_tracer = trace.get_tracer("asynccoder.tasks")


def trace_sql(engine: AsyncEngine) -> None:
    """A span per statement with the SQL text only: parameters are bound, never part of ``db.statement``, and
    no comment with request context is appended to the SQL."""
    # The instrumentation declares SQLAlchemy < 2.1 and would silently do nothing on 2.1; it only listens to
    # engine events, which 2.1 keeps (the tracing tests prove the spans arrive).
    SQLAlchemyInstrumentor().instrument(
        engine=engine.sync_engine, enable_commenter=False, skip_dep_check=True
    )


class TracedTaskRunner(TaskRunner):
    """Runs each task attempt inside a ``task.run`` span (the worker job), parent of its SQL and provider
    spans."""

    def __init__(self, inner: TaskRunner) -> None:
        self._inner = inner

    async def run(self, execution: TaskExecution) -> TaskOutcome:
        with _tracer.start_as_current_span(
            "task.run",
            kind=trace.SpanKind.CONSUMER,
            attributes={
                "asynccoder.task.id": str(execution.task_id),
                "asynccoder.task.mode": execution.mode.value,
                "asynccoder.task.attempt": execution.attempt,
            },
        ):
            return await self._inner.run(execution)
