"""Structured logging, set up once per process: JSON in production, readable in development.

Every log line of a request carries its ``request_id`` (bound in structlog's context variables).
Secrets never reach a log: settings redact them, and the redaction processor below masks any value whose key
names a secret, as a last line of defence.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
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
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
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
