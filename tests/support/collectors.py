"""Local collectors for what the app sends out: OTLP/HTTP traces (protobuf) and Sentry envelopes.

Each answers as the real service does (OTLP: an empty ``ExportTraceServiceResponse``; Sentry: ``{}``) and
keeps every request, decompressed, for the test to inspect.
"""

from __future__ import annotations

import gzip
import json
import zlib
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from tests.support.local_http import LocalServer, Request

OTLP_TRACES_PATH = "/v1/traces"
SENTRY_PROJECT = "42"
SENTRY_ENVELOPE_PATH = f"/api/{SENTRY_PROJECT}/envelope/"


def decoded_body(request: Request) -> bytes:
    encoding = request.headers.get("content-encoding", "")
    if encoding == "gzip":
        return gzip.decompress(request.body)
    if encoding == "deflate":
        return zlib.decompress(request.body)
    assert encoding in {"", "identity"}, f"unexpected content-encoding {encoding!r}"
    return request.body


class OtlpCollector:
    """Accepts ``POST /v1/traces`` with ``application/x-protobuf`` bodies."""

    def __init__(self) -> None:
        self.server = LocalServer(self._handle)

    def _handle(self, request: Request) -> tuple[int, dict[str, str], bytes]:
        if request.method != "POST" or request.path != OTLP_TRACES_PATH:
            return 404, {}, b""
        if request.headers.get("content-type") != "application/x-protobuf":
            return 415, {}, b""
        ExportTraceServiceRequest.FromString(decoded_body(request))  # a malformed export is a test failure
        return (
            200,
            {"Content-Type": "application/x-protobuf"},
            ExportTraceServiceResponse().SerializeToString(),
        )

    @property
    def endpoint(self) -> str:
        return self.server.url + OTLP_TRACES_PATH

    def raw(self) -> bytes:
        return b"".join(decoded_body(r) for r in self.server.requests)

    def spans(self) -> list[Any]:
        found: list[Any] = []
        for request in self.server.requests:
            export = ExportTraceServiceRequest.FromString(decoded_body(request))
            for resource_spans in export.resource_spans:
                for scope_spans in resource_spans.scope_spans:
                    found.extend(scope_spans.spans)
        return found

    def close(self) -> None:
        self.server.close()


def attributes(span: Any) -> dict[str, Any]:
    """An OTLP span's attributes as a plain dict."""
    values: dict[str, Any] = {}
    for item in span.attributes:
        kind = item.value.WhichOneof("value")
        values[item.key] = getattr(item.value, kind) if kind else None
    return values


class SentryCollector:
    """Accepts envelopes at ``/api/<project>/envelope/`` (the DSN's project), authenticated by the DSN key."""

    public_key = "0123456789abcdef0123456789abcdef"

    def __init__(self) -> None:
        self.server = LocalServer(self._handle)

    def _handle(self, request: Request) -> tuple[int, dict[str, str], bytes]:
        if request.method != "POST" or request.path != SENTRY_ENVELOPE_PATH:
            return 404, {}, b""
        auth = request.headers.get("x-sentry-auth", "")
        if f"sentry_key={self.public_key}" not in auth:
            return 401, {}, b""
        return 200, {"Content-Type": "application/json"}, b"{}"

    @property
    def dsn(self) -> str:
        host = self.server.url.removeprefix("http://")
        return f"http://{self.public_key}@{host}/{SENTRY_PROJECT}"

    def raw(self) -> bytes:
        return b"".join(decoded_body(r) for r in self.server.requests)

    def items(self) -> list[dict[str, Any]]:
        """Every JSON item of every envelope (headers and payloads alike)."""
        found: list[dict[str, Any]] = []
        for request in self.server.requests:
            for line in decoded_body(request).splitlines():
                try:
                    value = json.loads(line)
                except ValueError:
                    continue
                if isinstance(value, dict):
                    found.append(value)
        return found

    def close(self) -> None:
        self.server.close()
