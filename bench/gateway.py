"""``POST /fhir/Patient/$pdmp-history`` under load: req/s and p50/p99 at 32 connections against
``pmp-gateway serve --workers 2`` over a 1M-dispensation store (pmpdb and the load generator on the same box),
next to a bare aiohttp app (same worker count) returning the same response bytes, and their ratio.

Targets (issue 3, this 2-core machine): ≥ 2,000 req/s, p99 ≤ 30 ms, peak RSS per worker ≤ 150 MB.

    python -m bench.gateway --dispensations 1000000 --seconds 10
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson

from bench import wrk
from bench.common import print_table, start_cli, verdict
from bench.loadgen import LoadResult
from bench.search import WINDOW, data_dir

PERIOD = WINDOW  # covers every fill of the bulk file (about 25 per patient)
ACTIVITY_PERIOD = "http://hl7.org/fhir/us/pdmp/StructureDefinition/pdmp-activity-period-extension"


def history_body(last: str, first: str, dob: str, gender: str, zip_code: str) -> bytes:
    patient: dict[str, Any] = {
        "resourceType": "Patient",
        "name": [{"family": last, "given": [first]}],
        "birthDate": dob,
        "gender": {"F": "female", "M": "male"}.get(gender, "unknown"),
        "address": [{"postalCode": zip_code}],
    }
    return orjson.dumps(
        {
            "resourceType": "Parameters",
            "parameter": [
                {
                    "name": "patient",
                    "extension": [{"url": ACTIVITY_PERIOD, "valuePeriod": {"start": PERIOD[0], "end": PERIOD[1]}}],
                    "resource": patient,
                },
                {
                    "name": "authorized-practitioner",
                    "resource": {
                        "resourceType": "Practitioner",
                        "identifier": [{"system": "http://hl7.org/fhir/sid/us-npi", "value": "1234567893"}],
                        "name": [{"family": "Amster", "given": ["Adam"]}],
                    },
                },
            ],
        }
    )


def request_bytes(body: bytes, port: int) -> bytes:
    return wrk.request_bytes("127.0.0.1", port, HISTORY_PATH, body, HEADERS)


def sample_bodies(db: Path, count: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    rows = sqlite3.connect(db).execute("SELECT last_name, first_name, birth_date, gender, zip FROM patient").fetchall()
    return [history_body(*rows[rng.randrange(len(rows))]) for _ in range(count)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_gateway(path: Path, port: int, workers: int) -> subprocess.Popen[str]:
    proc, _ = start_cli(path, "serve", "--port", str(port), "--workers", str(workers), "--no-demo")
    return proc


def start_bare(port: int, workers: int, body: bytes) -> subprocess.Popen[str]:
    """The baseline: aiohttp with the same worker count (SO_REUSEPORT), returning ``body`` for the same route."""
    script = f"""
import os, sys, uvloop
from aiohttp import web
BODY = open({str(_bare_body_file())!r}, 'rb').read()
async def handler(request):
    await request.read()
    return web.Response(body=BODY, content_type='application/fhir+json')
app = web.Application()
app.router.add_post('/fhir/Patient/$pdmp-history', handler)
for _ in range({workers} - 1):
    if os.fork() == 0:
        break
print('listening', flush=True)
web.run_app(app, host='127.0.0.1', port={port}, reuse_port=True, access_log=None, print=None,
            loop=uvloop.new_event_loop())
"""
    _bare_body_file().write_bytes(body)
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    assert proc.stdout is not None
    proc.stdout.readline()
    _wait_port(port)
    return proc


def _bare_body_file() -> Path:
    from bench.common import workdir

    return workdir() / "bare-body.json"


def _wait_port(port: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on {port}")


def worker_peak_rss_mb(parent: int) -> list[float]:
    children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    peaks = []
    for pid in children:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                peaks.append(int(line.split()[1]) / 1024)
    return peaks


def fetch_one(port: int, body: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(request_bytes(body, port).replace(b"HTTP/1.1\r\n", b"HTTP/1.1\r\nConnection: close\r\n", 1))
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, payload = data.partition(b"\r\n\r\n")
    if b" 200 " not in head.split(b"\r\n")[0]:
        raise SystemExit(f"the gateway answered {head.splitlines()[0]!r}: {payload[:300]!r}")
    return payload


HEADERS = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}
HISTORY_PATH = "/fhir/Patient/$pdmp-history"


def _drive(port: int, bodies: list[bytes], args: argparse.Namespace) -> LoadResult:
    return wrk.drive(
        "127.0.0.1",
        port,
        HISTORY_PATH,
        bodies,
        HEADERS,
        connections=args.connections,
        seconds=args.seconds,
        warmup=args.warmup,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dispensations", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    path = data_dir(args.dispensations, args.seed)
    bodies = sample_bodies(path / "pmpdb.sqlite3", 500, args.seed)
    port = _free_port()
    gateway = start_gateway(path, port, args.workers)
    try:
        sample = fetch_one(port, bodies[0])
        entries = sum(
            1
            for e in orjson.loads(sample)["parameter"][0]["resource"].get("entry", [])
            if e["resource"]["resourceType"] == "MedicationDispense"
        )
        ours = _drive(port, bodies, args)
        rss = worker_peak_rss_mb(gateway.pid)
    finally:
        gateway.terminate()
        gateway.wait(30)
    bare_port = _free_port()
    bare = start_bare(bare_port, args.workers, sample)
    try:
        base = _drive(bare_port, bodies, args)
    finally:
        os.killpg(bare.pid, 15)
        bare.wait(10)
    _report(args, ours, base, rss, entries, len(sample))


def _report(
    args: argparse.Namespace, ours: LoadResult, base: LoadResult, rss: list[float], entries: int, size: int
) -> None:
    print_table(
        f"$pdmp-history, {args.dispensations:,} dispensations, {args.connections} connections, --workers "
        f"{args.workers}, {entries} MedicationDispense per answer ({size:,} B); baseline: bare aiohttp, same bytes",
        [
            ("requests/s", ours.rate, base.rate, "req/s"),
            ("latency p50", ours.percentile(0.5), base.percentile(0.5), "ms"),
            ("latency p99", ours.percentile(0.99), base.percentile(0.99), "ms"),
        ],
    )
    peaks = ", ".join(f"{r:.0f} MB" for r in rss)
    print(f"  load generator: {ours.tool}; failed or non-2xx answers: {ours.errors}; worker peak RSS: {peaks}")
    p99 = ours.percentile(0.99)
    verdict("≥ 2,000 req/s", ours.rate >= 2000, f"{ours.rate:,.0f} req/s")
    verdict("p99 ≤ 30 ms", p99 <= 30, f"{p99:.1f} ms")
    verdict("peak RSS per worker ≤ 150 MB", bool(rss) and max(rss) <= 150, f"{max(rss, default=0):.0f} MB")


if __name__ == "__main__":
    main()
