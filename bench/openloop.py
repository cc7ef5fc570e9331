"""An open-loop HTTP/1.1 load generator: requests start on a fixed schedule, finished or not.

Latency is measured from each request's *intended* start, so a stalled server shows up in the tail instead of
slowing the generator down (no coordinated omission). wrk2 is not packaged in Debian; this stands in for it.
Usage: python -m bench.openloop URL RATE SECONDS HEADERS_JSON  -> one JSON line on stdout.
"""

from __future__ import annotations

import asyncio
import json
import sys
from urllib.parse import urlsplit

MAX_IN_FLIGHT = 1000


async def run(url: str, rate: float, seconds: float, headers: dict[str, str]) -> dict[str, float | int]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    head = f"GET {target} HTTP/1.1\r\nHost: {host}:{port}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    request = (head + "\r\n").encode()
    loop = asyncio.get_running_loop()
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    latencies: list[float] = []
    errors = 0
    in_flight = 0
    dropped = 0

    async def one(intended: float) -> None:
        nonlocal errors, in_flight
        in_flight += 1
        try:
            reader, writer = idle.pop() if idle else await asyncio.open_connection(host, port)
            writer.write(request)
            response_head = await reader.readuntil(b"\r\n\r\n")
            status = int(response_head.split(b" ", 2)[1])
            length = 0
            for line in response_head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            latencies.append(loop.time() - intended)
            if status >= 400:
                errors += 1
            idle.append((reader, writer))
        except (OSError, asyncio.IncompleteReadError, ValueError):
            errors += 1
        finally:
            in_flight -= 1

    total = int(rate * seconds)
    start = loop.time() + 0.05
    tasks: set[asyncio.Task[None]] = set()
    for i in range(total):
        intended = start + i / rate
        delay = intended - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)  # pacing the schedule is the point of an open-loop generator
        if in_flight >= MAX_IN_FLIGHT:
            dropped += 1
            continue
        task = asyncio.ensure_future(one(intended))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    await asyncio.gather(*tasks)
    elapsed = loop.time() - start
    for _, writer in idle:
        writer.close()
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] * 1000 if latencies else 0.0

    return {
        "target_rps": rate,
        "achieved_rps": len(latencies) / elapsed if elapsed else 0.0,
        "completed": len(latencies),
        "errors": errors,
        "dropped": dropped,
        "p50_ms": pct(50),
        "p90_ms": pct(90),
        "p99_ms": pct(99),
        "max_ms": latencies[-1] * 1000 if latencies else 0.0,
    }


def main() -> None:
    url, rate, seconds, headers = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), json.loads(sys.argv[4])
    try:
        import uvloop
    except ImportError:
        print(json.dumps(asyncio.run(run(url, rate, seconds, headers))))
    else:
        print(json.dumps(uvloop.run(run(url, rate, seconds, headers))))


if __name__ == "__main__":
    main()
