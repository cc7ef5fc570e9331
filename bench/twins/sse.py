"""A minimal raw ASGI server-sent-events app: the floor for RSS per idle stream and fan-out cost.

``GET /events`` keeps a stream open and sends one comment line every ``SSE_HEARTBEAT_SECONDS`` (default 15);
``POST /publish`` sends one event to every open stream; ``GET /health/ready`` answers 200.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

HEARTBEAT = float(os.environ.get("SSE_HEARTBEAT_SECONDS", "15"))


class SseApp:
    def __init__(self) -> None:
        self.streams: set[asyncio.Queue[bytes]] = set()
        self.sequence = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        path, method = scope["path"], scope["method"]
        if path == "/events" and method == "GET":
            await self.stream(receive, send)
        elif path == "/publish" and method == "POST":
            self.sequence += 1
            frame = f'id: {self.sequence}\nevent: log\ndata: {{"seq": {self.sequence}}}\n\n'.encode()
            for queue in self.streams:
                queue.put_nowait(frame)
            await self.plain(send, 202, b'{"delivered": %d}' % len(self.streams))
        elif path == "/health/ready":
            await self.plain(send, 200, b'{"status": "ok"}')
        else:
            await self.plain(send, 404, b'{"code": "not_found"}')

    async def plain(self, send: Any, status: int, body: bytes) -> None:
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def disconnect(self, receive: Any) -> None:
        """Returns when the client goes away (the request's empty body comes first)."""
        while (await receive())["type"] != "http.disconnect":
            pass

    async def stream(self, receive: Any, send: Any) -> None:
        queue: asyncio.Queue[bytes] = asyncio.Queue()
        self.streams.add(queue)
        headers = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-store")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b": open\n\n", "more_body": True})
        disconnected = asyncio.ensure_future(self.disconnect(receive))
        try:
            while True:
                getter = asyncio.ensure_future(queue.get())
                done, _ = await asyncio.wait(
                    {getter, disconnected}, timeout=HEARTBEAT, return_when="FIRST_COMPLETED"
                )
                if disconnected in done:
                    getter.cancel()
                    return
                frame = getter.result() if getter in done else b": heartbeat\n\n"
                if getter not in done:
                    getter.cancel()
                await send({"type": "http.response.body", "body": frame, "more_body": True})
        finally:
            self.streams.discard(queue)
            disconnected.cancel()


def create() -> SseApp:
    return SseApp()
