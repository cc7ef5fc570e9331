"""Structured logging, set up once per process: JSON in production, readable in development.

Every log line of a request carries its ``request_id`` (bound in structlog's context variables).
Secrets never reach a log: settings redact them, and the redaction processor below masks any value whose key
names a secret, as a last line of defence.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any, TextIO

import structlog

_SECRET_KEY = re.compile(r"(pass(word)?|secret|token|api[_-]?key|authorization|cookie|signature)", re.I)


def _redact(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event):
        if key != "event" and _SECRET_KEY.search(key):
            event[key] = "[redacted]"
    return event


def configure_logging(*, level: str = "INFO", fmt: str = "console", stream: TextIO | None = None) -> None:
    """Route stdlib logging and structlog through one renderer on ``stream`` (stderr by default)."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _redact,
    ]
    # Tracebacks are plain text in every format: never frame locals (they hold request bodies, tokens and
    # keys) and never rich rendering, which costs the event loop hundreds of milliseconds per error.
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(
            colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback
        )
    )
    structlog.configure(
        processors=[*shared, _report_errors, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info if fmt == "json" else (lambda _l, _n, e: e),
            renderer,
        ],
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter)
    handler.set_name("asynccoder")
    root = logging.getLogger()
    # Replace only our own handler, so that handlers others installed (test capture, APM agents) stay.
    root.handlers[:] = [h for h in root.handlers if h.get_name() != "asynccoder"] + [handler]
    root.setLevel(level)
    # Our access log replaces the servers' own.
    for name in ("uvicorn.access", "granian.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = False


# --- tracing and error tracking ---------------------------------------------------------------------------
# Both are off unless configured, and their libraries are imported only then. What they send goes through the
# same rules as the logs: a value whose key names a secret is masked, URLs lose their query strings (OAuth
# codes and states travel there), and nothing carries request bodies, SQL parameters or frame locals.

REDACTED = "[redacted]"
_URL_ATTRIBUTES = {"http.url", "url.full", "http.target", "url.query", "http.request.header.referer"}


def redact_attributes(attributes: Mapping[str, Any] | None) -> dict[str, Any]:
    """Span or event attributes with secrets masked and query strings cut from URLs."""
    cleaned: dict[str, Any] = {}
    for key, value in (attributes or {}).items():
        if _SECRET_KEY.search(key) or key == "url.query":
            cleaned[key] = REDACTED
        elif key in _URL_ATTRIBUTES and isinstance(value, str) and "?" in value:
            cleaned[key] = value.split("?", 1)[0] + "?" + REDACTED
        else:
            cleaned[key] = value
    return cleaned


def span_details(scope: Any) -> tuple[str, dict[str, Any]]:
    """The server span's name and route: the route template (``GET /api/v1/tasks/{task_id}``), never the
    raw path."""
    method = str(scope.get("method", "")).strip() or str(scope.get("type", ""))
    template = scope.get("path_template") or "unmatched"
    return f"{method} {template}", {"http.route": template}


def starts_a_trace(kind: Any) -> bool:
    """Whether a span of ``kind`` (an OpenTelemetry ``SpanKind``) without a parent starts a trace: a server
    request or a consumed job does; a client call (SQL, HTTP) or an internal span (a use case) does not, so
    the worker's idle polling (``DeliverWebhooks`` and its SQL) sends nothing and CLI use cases are not
    traced."""
    return getattr(kind, "name", None) not in {"CLIENT", "INTERNAL"}


_tracer_provider: Any = None


def configure_tracing(settings: Any) -> Any:
    """Install a tracer provider exporting to ``settings.otlp_endpoint`` (OTLP/HTTP protobuf), once per
    process; returns it, or ``None`` when tracing is off. Outgoing httpx calls (GitHub OAuth, Clerk JWKS)
    are traced here; the HTTP server span, use cases, SQL, task runs and model calls where those are built
    (``ioc``)."""
    global _tracer_provider
    if settings.otlp_endpoint is None:
        return None
    if _tracer_provider is not None:
        return _tracer_provider
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
    from opentelemetry.sdk.trace.sampling import Decision, ParentBased, Sampler, SamplingResult

    class RootsOfWork(Sampler):
        """A trace starts at a unit of work (an HTTP request, a task run), never at a lone SQL statement, HTTP
        call or use case (``starts_a_trace``): the worker's idle polling would otherwise send a trace every
        half second."""

        def should_sample(
            self, parent_context: Any, trace_id: int, name: str, kind: Any = None, *_: Any, **__: Any
        ) -> SamplingResult:
            if not starts_a_trace(kind):
                return SamplingResult(Decision.DROP)
            return SamplingResult(Decision.RECORD_AND_SAMPLE)

        def get_description(self) -> str:
            return "RootsOfWork"

    class RedactingSpanExporter(SpanExporter):
        """Applies ``redact_attributes`` to every span and span event before they leave the process."""

        def __init__(self, inner: SpanExporter) -> None:
            self._inner = inner

        def export(self, spans: Any) -> SpanExportResult:
            return self._inner.export([_redacted(span) for span in spans])

        def shutdown(self) -> None:
            self._inner.shutdown()

        def force_flush(self, timeout_millis: int = 30_000) -> bool:
            return self._inner.force_flush(timeout_millis)

    def _redacted(span: ReadableSpan) -> ReadableSpan:
        from opentelemetry.sdk.trace import Event

        return ReadableSpan(
            name=span.name,
            context=span.context,
            parent=span.parent,
            resource=span.resource,
            attributes=redact_attributes(span.attributes),
            events=[Event(e.name, redact_attributes(e.attributes), e.timestamp) for e in span.events],
            links=span.links,
            kind=span.kind,
            status=span.status,
            start_time=span.start_time,
            end_time=span.end_time,
            instrumentation_scope=span.instrumentation_scope,
        )

    provider = TracerProvider(
        resource=Resource.create({"service.name": settings.otel_service_name}),
        sampler=ParentBased(root=RootsOfWork()),
    )
    provider.add_span_processor(
        BatchSpanProcessor(RedactingSpanExporter(OTLPSpanExporter(endpoint=settings.otlp_endpoint)))
    )
    trace.set_tracer_provider(provider)
    HTTPXClientInstrumentor().instrument(tracer_provider=provider)
    _tracer_provider = provider
    return provider


def http_tracing_plugins(settings: Any) -> list[Any]:
    """Litestar's OpenTelemetry plugin (server spans named by route template), when tracing is on."""
    provider = configure_tracing(settings)
    if provider is None:
        return []
    from litestar.plugins import InitPlugin
    from litestar.plugins.opentelemetry import OpenTelemetryConfig, OpenTelemetryPlugin
    from opentelemetry import trace

    def name_by_route(app: Any) -> Any:
        """The server span starts before routing; once routed, it is renamed after the route template."""

        async def middleware(scope: Any, receive: Any, send: Any) -> None:
            name, attributes = span_details(scope)
            span = trace.get_current_span()
            span.update_name(name)
            span.set_attributes(attributes)
            await app(scope, receive, send)

        return middleware

    class RouteSpanNames(InitPlugin):
        def on_app_init(self, app_config: Any) -> Any:
            app_config.middleware.append(name_by_route)
            return app_config

    return [
        OpenTelemetryPlugin(
            OpenTelemetryConfig(
                tracer_provider=provider,
                scope_span_details_extractor=span_details,
                exclude_spans=["receive", "send"],  # one span per request, not one per ASGI message
            )
        ),
        RouteSpanNames(),
    ]


def flush_tracing(timeout_millis: int = 5_000) -> None:
    """Export what is buffered (at shutdown, and in tests)."""
    if _tracer_provider is not None:
        _tracer_provider.force_flush(timeout_millis)


def scrub_event(event: Any, hint: Any = None) -> Any:
    """Sentry's ``before_send``: mask secret-named keys at any depth, drop request bodies, cookies and query
    strings, and any frame variables that slipped through. A structlog line reaches Sentry's logging
    integration as a dict without its exception; ``_report_errors`` sends it (with the exception) instead."""
    record = (hint or {}).get("log_record")
    if record is not None and isinstance(record.msg, dict):
        return None
    return _scrub(event)


def _report_errors(_logger: Any, method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Sends structlog errors to the error tracker (when on) with their exception, after redaction."""
    if not _error_tracking or method not in {"error", "exception", "critical"}:
        return event
    import sentry_sdk

    exc_info = event.get("exc_info")
    if exc_info is True:
        exc_info = sys.exc_info()
    if exc_info and exc_info != (None, None, None):
        sentry_sdk.capture_exception(exc_info)
    else:
        sentry_sdk.capture_message(str(event.get("event", "error")), level="error")
    return event


def _scrub(value: Any) -> Any:
    if isinstance(value, dict):
        cleaned: dict[Any, Any] = {}
        for key, item in value.items():
            if key in {"vars", "data", "cookies", "query_string", "env"}:
                continue
            if isinstance(key, str) and _SECRET_KEY.search(key):
                cleaned[key] = REDACTED
            else:
                cleaned[key] = _scrub(item)
        return cleaned
    if isinstance(value, list | tuple):
        return [_scrub(item) for item in value]
    return value


_error_tracking = False


def configure_error_tracking(settings: Any, *, release: str) -> bool:
    """Send errors (ERROR log records with their exceptions, uncaught exceptions) to ``settings.sentry_dsn``
    once per process; ``False`` when off. No frame locals, no PII, no request bodies, no auto-instrumentation
    of libraries (which would record SQL and HTTP breadcrumbs with their data)."""
    global _error_tracking
    if settings.sentry_dsn is None:
        return False
    if _error_tracking:
        return True
    import sentry_sdk

    sentry_sdk.init(
        dsn=settings.sentry_dsn,
        environment=settings.environment,
        release=release,
        send_default_pii=False,
        include_local_variables=False,
        include_source_context=False,
        max_request_body_size="never",
        auto_enabling_integrations=False,
        before_send=scrub_event,
        before_breadcrumb=scrub_event,
        traces_sample_rate=None,
    )
    _error_tracking = True
    return True


def flush_error_tracking(timeout_seconds: float = 5.0) -> None:
    if _error_tracking:
        import sentry_sdk

        sentry_sdk.flush(timeout=timeout_seconds)
