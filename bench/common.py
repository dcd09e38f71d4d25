"""Small helpers shared by the benchmarks: percentiles, a figure table, a cached work directory."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from pathlib import Path


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
