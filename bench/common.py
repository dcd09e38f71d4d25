"""Small helpers shared by the benchmarks: percentiles, a figure table, a cached work directory, a free port, and
load driven at a server with the CPU its processes spent on it."""

from __future__ import annotations

import argparse
import dataclasses
import os
import socket
import statistics
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

from bench import wrk
from bench.loadgen import LoadResult

Route = tuple[str, dict[str, str]]  # a path and its request headers


def workdir() -> Path:
    path = Path(os.environ.get("PMP_BENCH_DIR", "var/bench"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def percentile(samples: list[float], q: float) -> float:
    if len(samples) == 1:
        return samples[0]
    return statistics.quantiles(samples, n=1000, method="inclusive")[max(0, min(998, round(q * 1000) - 1))]


def print_table(title: str, rows: list[tuple[str, float, float, str]]) -> None:
    """rows: (metric, ours, baseline, unit). Ratio = ours / baseline."""
    print(f"\n{title}")
    print(f"  {'metric':<34}{'ours':>14}{'baseline':>14}{'ratio':>9}  unit")
    for metric, ours, base, unit in rows:
        ratio = ours / base if base else float("nan")
        print(f"  {metric:<34}{ours:>14,.1f}{base:>14,.1f}{ratio:>9.2f}  {unit}")


def load_rows(
    ours: LoadResult, base: LoadResult, cpu: str = "server CPU per request"
) -> list[tuple[str, float, float, str]]:
    """The figures of two load runs side by side, for ``print_table``; ``cpu`` names whose CPU was counted."""
    return [
        ("requests/s", ours.rate, base.rate, "req/s"),
        ("latency p50", ours.percentile(0.5), base.percentile(0.5), "ms"),
        ("latency p99", ours.percentile(0.99), base.percentile(0.99), "ms"),
        (cpu, ours.server_cpu_ms, base.server_cpu_ms, "ms"),
    ]


def median_run(runs: list[LoadResult]) -> LoadResult:
    """The run with the median throughput (its latencies belong to it; they are not mixed across runs)."""
    return sorted(runs, key=lambda r: r.rate)[len(runs) // 2]


def verdict(name: str, ok: bool, detail: str) -> None:
    print(f"  target {name}: {'met' if ok else 'NOT met'} ({detail})")


def start_cli(data_dir: Path, *args: str, env: dict[str, str] | None = None) -> tuple[subprocess.Popen[str], str]:
    """Start ``pmp-gateway ARGS`` on ``data_dir`` (SQLite; ``env`` adds settings) and return it with its first
    stdout line, once it says it is listening."""
    env = {**os.environ, "PMP_DATA_DIR": str(data_dir), "PMP_STORE": "sqlite", **(env or {})}
    proc = subprocess.Popen(
        [sys.executable, "-m", "pmpcli", *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "listening" not in line:
        proc.kill()
        raise SystemExit(f"pmp-gateway {args[0]} did not start: {line!r}")
    return proc, line


def stop(procs: Iterable[subprocess.Popen[str] | None]) -> None:
    """SIGTERM to every started process first, then wait for each: they shut down side by side."""
    started = [p for p in procs if p is not None]
    for proc in started:
        proc.terminate()
    for proc in started:
        proc.wait(30)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def drive(port: int, route: Route, bodies: list[bytes], args: argparse.Namespace, *servers: int) -> LoadResult:
    """Warm up (``args.warmup`` seconds), then measure (``args.seconds``, ``args.connections``); the result carries
    the CPU per request of the ``servers`` process trees, which is steadier than req/s on this noisy machine and is
    what a stage's cost really is."""
    path, headers = route

    def run(seconds: float) -> LoadResult:
        return wrk.drive(
            "127.0.0.1", port, path, bodies, headers, connections=args.connections, seconds=seconds, warmup=0
        )

    if args.warmup > 0:
        run(args.warmup)
    before = sum(process_tree_cpu_seconds(pid) for pid in servers)
    result = run(args.seconds)
    used = sum(process_tree_cpu_seconds(pid) for pid in servers) - before
    return dataclasses.replace(result, server_cpu_ms=1000 * used / max(1, result.requests))


def process_tree_cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` and its children (the gateway's workers, the bare server's forks)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    for p in (str(pid), *children):
        fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total
