"""Start the project's real processes for end-to-end tests and wait for them without sleeping blindly."""

from __future__ import annotations

import json
import os
import queue
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


# For tests of something else than OAuth: the gateway without its authenticate and identify stages (serve then
# stays on loopback). tests/e2e/test_auth.py runs the protocols with tokens and the registry.
NO_AUTH = {"PMP_AUTHENTICATE": "false", "PMP_IDENTIFY": "false"}


def cli_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PMP_")}
    env.update({"PMP_DATA_DIR": str(data_dir), "PYTHONPATH": str(ROOT)}, **extra)
    return env


def run_cli(*args: str, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pmpcli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )


def cli_json(env: dict[str, str], *args: str, timeout: float = 60, json_flag: bool = True) -> Any:
    """``pmp-gateway ARGS --json`` (``json_flag=False``: ARGS alone, for a command that prints JSON without it): what
    it printed, once it has exited 0."""
    result = run_cli(*args, *(("--json",) if json_flag else ()), env=env, timeout=timeout)
    where = f"pmp-gateway {' '.join(args[:2])} in {env.get('PMP_DATA_DIR', '')}"
    assert result.returncode == 0, f"{where}: {result.stderr[-2000:]}"
    return json.loads(result.stdout)


@contextmanager
def running(
    *args: str, env: dict[str, str], ready: str, timeout: float = 120
) -> Iterator[tuple[subprocess.Popen[str], re.Match[str]]]:
    """Start ``pmp-gateway ARGS``; yield once a stdout line matches ``ready``; stop it with SIGTERM after."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "pmpcli", *args],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    assert proc.stdout is not None
    stdout = proc.stdout
    threading.Thread(target=lambda: [lines.put(line) for line in stdout], daemon=True).start()
    deadline = time.monotonic() + timeout
    pattern = re.compile(ready)
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or proc.poll() is not None:
                err = proc.stderr.read() if proc.stderr and proc.poll() is not None else ""
                raise AssertionError(f"process did not become ready (exit {proc.poll()}): {err[-2000:]}")
            try:
                line = lines.get(timeout=min(left, 0.5))
            except queue.Empty:
                continue
            match = pattern.search(line)
            if match:
                break
        yield proc, match
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
