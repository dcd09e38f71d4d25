"""A small closed-loop HTTP/1.1 load generator (keep-alive, N connections), for when wrk is not installed.

It runs in its own process so its CPU is not the server's; it sends pre-built request bytes, reads each response
by Content-Length, and records per-request latency. Both sides of a benchmark use it, so its own cost (tens of µs
per request, more than wrk's) cancels out in the ratio.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import multiprocessing.connection
import time
from dataclasses import dataclass


@dataclass(slots=True, frozen=True)
class LoadResult:
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]
    statuses: dict[int | str, int]
    tool: str = "bench.loadgen"
    p50_ms: float = 0.0  # set by tools that report percentiles, not samples (wrk)
    p99_ms: float = 0.0
    server_cpu_ms: float = 0.0  # CPU of the server's processes per request, when the caller measured it

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def percentile(self, q: float) -> float:
        if not self.latencies_ms:
            return {0.5: self.p50_ms, 0.99: self.p99_ms}[q]
        from bench.common import percentile

        return percentile(self.latencies_ms, q)


async def _connection(
    host: str,
    port: int,
    requests: list[bytes],
    offset: int,
    stop_at: float,
    warm_until: float,
    out: list[float],
    statuses: dict[int | str, int],
    errors: list[int],
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    i = offset
    n = len(requests)
    try:
        while True:
            now = time.perf_counter()
            if now >= stop_at:
                return
            writer.write(requests[i % n])
            i += 1
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
                    break
            if length:
                await reader.readexactly(length)
            done = time.perf_counter()
            if now >= warm_until:
                out.append((done - now) * 1000)
                statuses[status] = statuses.get(status, 0) + 1
                if not 200 <= status < 300:
                    errors.append(status)
    finally:
        writer.close()


async def _run(
    host: str, port: int, requests: list[bytes], connections: int, seconds: float, warmup: float
) -> LoadResult:
    start = time.perf_counter()
    warm_until = start + warmup
    stop_at = warm_until + seconds
    latencies: list[float] = []
    statuses: dict[int | str, int] = {}
    errors: list[int] = []
    await asyncio.gather(
        *(
            _connection(host, port, requests, c * 7, stop_at, warm_until, latencies, statuses, errors)
            for c in range(connections)
        )
    )
    return LoadResult(len(latencies), len(errors), seconds, latencies, statuses)


def _child(
    host: str,
    port: int,
    requests: list[bytes],
    connections: int,
    seconds: float,
    warmup: float,
    conn: multiprocessing.connection.Connection,
) -> None:
    try:
        import uvloop

        result = uvloop.run(_run(host, port, requests, connections, seconds, warmup))
    except ImportError:  # pragma: no cover
        result = asyncio.run(_run(host, port, requests, connections, seconds, warmup))
    conn.send(result)
    conn.close()


def run_load(
    host: str, port: int, requests: list[bytes], *, connections: int = 32, seconds: float = 10.0, warmup: float = 2.0
) -> LoadResult:
    """Drive ``host:port`` with ``requests`` (cycled) from a separate process; returns after the window."""
    ctx = multiprocessing.get_context("spawn")
    receive, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(host, port, requests, connections, seconds, warmup, send))
    proc.start()
    send.close()
    result: LoadResult = receive.recv()
    proc.join()
    return result
