"""The HTTP protocol ``asynccoder serve`` runs: uvicorn's httptools protocol with the two limits uvicorn does
not enforce on a request's head (the request line and headers).

uvicorn arms its keep-alive timer only once a response is complete, and any byte cancels it: a client that
connects and sends nothing, or sends its headers a byte at a time, holds the connection for ever. Here the
head of every request must arrive within the keep-alive timeout (``SERVER_KEEP_ALIVE_TIMEOUT_SECONDS``),
counted from the connection or from the request's first byte, or the server closes the connection; and a
head larger than ``SERVER_MAX_HEADER_BYTES`` (uvicorn's ``h11_max_incomplete_event_size``, which uvicorn
applies to its h11 protocol only) is answered with 431 and the connection closed. Request *bodies* keep
uvicorn's behaviour (no read timeout): the reverse proxy must bound them (README, Deployment).
"""

from __future__ import annotations

import asyncio
from asyncio import TimerHandle
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class _HeadTooLarge(Exception):
    pass


class BoundedHeadProtocol(HttpToolsProtocol):
    """``HttpToolsProtocol`` with a deadline and a size limit on each request's head (see the module)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_deadline = float(self.config.timeout_keep_alive)
        self._max_head_bytes = int(self.config.h11_max_incomplete_event_size or 16 * 1024)
        self._head_timer: TimerHandle | None = None
        self._head_bytes = 0
        self._head_too_large = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_bytes = 0
        if self._head_timer is None:  # a later request on a kept-alive connection
            self._arm_head_timer()

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._cancel_head_timer()
        super().on_headers_complete()

    def send_400_response(self, msg: str) -> None:
        if not self._head_too_large:
            super().send_400_response(msg)
            return
        body = b"Request header fields too large."
        self.transport.write(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: text/plain; charset=utf-8\r\n"
            b"content-length: " + str(len(body)).encode() + b"\r\nconnection: close\r\n\r\n" + body
        )
        self.transport.close()

    def _count(self, size: int) -> None:
        self._head_bytes += size
        if self._head_bytes > self._max_head_bytes:
            self._head_too_large = True
            raise _HeadTooLarge  # the parser turns it into the HttpParserError uvicorn answers (above)

    def _arm_head_timer(self) -> None:
        self._cancel_head_timer()
        self._head_timer = self.loop.call_later(self._head_deadline, self._head_timed_out)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing():
            self.transport.close()
