"""A tiny programmable HTTP server on an ephemeral 127.0.0.1 port, the base of the providers' fake servers.

Each test queues the replies it wants (JSON, an SSE stream, raw bytes, a hang); the server records every
request it received and lets a subclass reject requests that a real provider would reject (auth, body shape).
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass(frozen=True)
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    sse: tuple[bytes, ...] | None = None
    hang: bool = False
    hang_seconds: float = 10  # a hanging reply gives up (closes without answering) after this long

    @staticmethod
    def json(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
        return Reply(
            status,
            {"content-type": "application/json", **(headers or {})},
            json.dumps(payload).encode(),
        )

    @staticmethod
    def raw(body: bytes, status: int = 200, content_type: str = "application/json") -> Reply:
        return Reply(status, {"content-type": content_type}, body)

    @staticmethod
    def stream(frames: Iterable[bytes], headers: dict[str, str] | None = None) -> Reply:
        return Reply(
            200,
            {"content-type": "text/event-stream", "cache-control": "no-cache", **(headers or {})},
            sse=tuple(frames),
        )

    @staticmethod
    def hanging(seconds: float = 10) -> Reply:
        return Reply(hang=True, hang_seconds=seconds)


class FakeHttpServer:
    """Start with ``with Server(...) as s:``; ``s.base_url``, ``s.enqueue(reply)``, ``s.requests``."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self._replies: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                server._handle(self)

            do_GET = do_POST

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.02,), daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def enqueue(self, *replies: Reply) -> Self:
        with self._lock:
            self._replies.extend(replies)
        return self

    @property
    def pending(self) -> int:
        return len(self._replies)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    # --- subclasses -----------------------------------------------------------------------------------
    def check(self, request: Recorded) -> Reply | None:
        """A reply when the request is one the real service would reject, else None."""
        return None

    def no_reply(self, request: Recorded) -> Reply:
        return Reply.json({"error": "the test queued no reply"}, status=500)

    def finalize(self, request: Recorded, reply: Reply) -> Reply:
        """The reply as sent: a subclass may fill in what depends on the request (e.g. usage)."""
        return reply

    # --- internals ------------------------------------------------------------------------------------
    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("content-length") or 0)
        raw = handler.rfile.read(length) if length else b""
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw
        parts = urlsplit(handler.path)
        recorded = Recorded(
            handler.command,
            parts.path,
            parse_qs(parts.query),
            {k.lower(): v for k, v in handler.headers.items()},
            body,
        )
        with self._lock:
            self.requests.append(recorded)
        reply = self.check(recorded)
        if reply is None:
            with self._lock:
                reply = self._replies.popleft() if self._replies else None
        if reply is None:
            reply = self.no_reply(recorded)
        else:
            with self._lock:
                reply = self.finalize(recorded, reply)
        self._send(handler, reply)

    def _send(self, handler: BaseHTTPRequestHandler, reply: Reply) -> None:
        if reply.hang:
            self._stop.wait(reply.hang_seconds)
            return
        handler.send_response(reply.status)
        for name, value in reply.headers.items():
            handler.send_header(name, value)
        if reply.sse is None:
            handler.send_header("content-length", str(len(reply.body)))
            handler.end_headers()
            handler.wfile.write(reply.body)
            return
        handler.send_header("transfer-encoding", "chunked")
        handler.send_header("connection", "close")
        handler.end_headers()
        for frame in reply.sse:
            handler.wfile.write(f"{len(frame):x}\r\n".encode() + frame + b"\r\n")
            handler.wfile.flush()
        handler.wfile.write(b"0\r\n\r\n")
        handler.wfile.flush()
        handler.close_connection = True


def sse_frame(data: Any, event: str | None = None) -> bytes:
    """One Server-Sent Event: ``event:`` line (if any) and a JSON ``data:`` line."""
    payload = data if isinstance(data, str) else json.dumps(data)
    prefix = f"event: {event}\n" if event else ""
    return f"{prefix}data: {payload}\n\n".encode()
