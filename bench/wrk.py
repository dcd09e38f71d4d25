"""Drive a server with wrk (C, ~20 µs of CPU per request) when it is installed; ``bench.loadgen`` otherwise.

wrk leaves more of this 2-core box to the server than the Python load generator does, so figures taken with it
are the ones to compare with the targets. Both sides of a benchmark always use the same tool, so the ratio holds
either way; the report says which tool ran.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from bench.loadgen import LoadResult, run_load

_LUA = """
local bodies = {%(bodies)s}
local n = #bodies
local i = 0
wrk.method = "POST"
%(headers)s
function setup(thread)
  thread:set("offset", (#%(counter)s) * 97)
  table.insert(%(counter)s, thread)
end
function init(args)
  i = offset or 0
end
function request()
  i = i + 1
  return wrk.format(nil, nil, nil, bodies[(i %% n) + 1])
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("WRK %%d %%d %%d %%d %%d %%d %%.1f %%.1f\\n", summary.requests, summary.duration,
    e.connect + e.read + e.write + e.timeout, e.status, 0, 0, latency:percentile(50), latency:percentile(99)))
end
%(counter)s = {}
"""


def available() -> bool:
    return shutil.which("wrk") is not None


def _lua(bodies: list[bytes], headers: dict[str, str]) -> str:
    for body in bodies:
        if b"]==]" in body:
            raise ValueError("a body holds the Lua long-string terminator")
    quoted = ",\n".join(f"[==[{b.decode()}]==]" for b in bodies)
    header_lines = "\n".join(f'wrk.headers["{k}"] = "{v}"' for k, v in headers.items())
    return _LUA % {"bodies": quoted, "headers": header_lines, "counter": "pmp_threads"}


def _wrk(url: str, script: Path, connections: int, seconds: float) -> tuple[int, float, int, int, float, float]:
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{max(1, round(seconds))}s", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    line = next((x for x in out.splitlines() if x.startswith("WRK ")), None)
    if line is None:
        raise SystemExit(f"wrk printed no summary: {out[-500:]!r}")
    requests, duration_us, socket_errors, status_errors, _, _, p50_us, p99_us = line.split()[1:]
    return (
        int(requests),
        int(duration_us) / 1e6,
        int(socket_errors),
        int(status_errors),
        float(p50_us) / 1000,
        float(p99_us) / 1000,
    )


def drive(
    host: str,
    port: int,
    path: str,
    bodies: list[bytes],
    headers: dict[str, str],
    *,
    connections: int,
    seconds: float,
    warmup: float,
) -> LoadResult:
    """POST ``bodies`` (cycled) to ``path`` for ``seconds`` after ``warmup``, with wrk if installed."""
    if not available():
        return run_load(
            host,
            port,
            [request_bytes(host, port, path, b, headers) for b in bodies],
            connections=connections,
            seconds=seconds,
            warmup=warmup,
        )
    url = f"http://{host}:{port}{path}"
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "bodies.lua"
        script.write_text(_lua(bodies, headers))
        if warmup > 0:
            _wrk(url, script, connections, warmup)
        requests, duration, socket_errors, status_errors, p50, p99 = _wrk(url, script, connections, seconds)
    statuses = {"2xx/3xx": requests - status_errors, "other": status_errors}
    return LoadResult(
        requests=requests,
        errors=socket_errors + status_errors,
        seconds=duration,
        latencies_ms=[],
        statuses=statuses,
        tool="wrk",
        p50_ms=p50,
        p99_ms=p99,
    )


def request_bytes(host: str, port: int, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", *(f"{k}: {v}" for k, v in headers.items())]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body
