"""The gateway under load, FHIR ``$pdmp-history`` and NCPDP ``RxHistoryRequest``: req/s and p50/p99 at 32
connections against ``pmp-gateway serve --workers 2`` over a 1M-dispensation store (pmpdb, Redis and the load
generator on the same box), with OAuth on (a bearer token from ``/oauth/token``, the registry's identify step).
Baselines in the same run: a bare aiohttp app (same worker count) returning the same response bytes, and the same
gateway with a stage turned off, for each stage whose cost has a target (OAuth, audit, suspension + rate limit).
Every configuration runs side by side and the load alternates between them for ``--rounds`` rounds; the figures are
medians, because this machine drifts by ±25 % within minutes.

Targets (issues 3–7; this 2-core machine): ≥ 2,000 req/s, p99 ≤ 30 ms, peak RSS per worker ≤ 150 MB; OAuth costs
≤ 5 % of throughput, audit ≤ 10 %, suspension + rate limit ≤ 10 %.

    python -m bench.gateway --dispensations 1000000 --seconds 10 --rounds 3
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import orjson

from bench import wrk
from bench.common import Route, load_rows, print_table, start_cli, stop, verdict
from bench.common import drive as _drive
from bench.common import free_port as _free_port
from bench.common import median_run as _median_run
from bench.loadgen import LoadResult
from bench.search import WINDOW, data_dir

PERIOD = WINDOW  # covers every fill of the bulk file (about 25 per patient)
ACTIVITY_PERIOD = "http://hl7.org/fhir/us/pdmp/StructureDefinition/pdmp-activity-period-extension"
NPI = "1234567893"  # the bench prescriber, registered with the CLI
SCOPE = "system/MedicationDispense.rs pmp/ncpdp.history"
FHIR = ("/fhir/Patient/$pdmp-history", {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"})
NCPDP = ("/ncpdp/script", {"Content-Type": "application/xml", "Accept": "application/xml"})


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


def rx_history_body(last: str, first: str, dob: str, gender: str, zip_code: str) -> bytes:
    """An NCPDP SCRIPT 2017071 RxHistoryRequest for the same patient, from the bench prescriber."""
    sex = gender if gender in ("F", "M") else "U"
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Message xmlns="http://www.ncpdp.org/schema/SCRIPT" TransactionDomain="SCRIPT" TransactionVersion="20170715" \
StructuresVersion="20170715" DatatypesVersion="20170715" TransportVersion="20170715" ECLVersion="20170715">
<Header><To Qualifier="ZZZ">UTPMP</To><From Qualifier="D">BENCHEHR</From><MessageID>{uuid.uuid4().hex[:32]}</MessageID>\
<SentTime>2026-01-05T10:00:00Z</SentTime></Header>
<Body><RxHistoryRequest><Patient><HumanPatient><Name><LastName>{escape(last)}</LastName>\
<FirstName>{escape(first)}</FirstName></Name><Gender>{sex}</Gender><DateOfBirth><Date>{dob}</Date></DateOfBirth>\
<Address><PostalCode>{zip_code}</PostalCode></Address></HumanPatient></Patient>
<Prescriber><NonVeterinarian><Identification><NPI>{NPI}</NPI></Identification><Name><LastName>AMSTER</LastName>\
<FirstName>ADAM</FirstName></Name></NonVeterinarian></Prescriber>
<RequestedDates><StartDate><Date>{PERIOD[0]}</Date></StartDate><EndDate><Date>{PERIOD[1]}</Date></EndDate>\
</RequestedDates></RxHistoryRequest></Body></Message>""".encode()


def sample_patients(db: Path, count: int, seed: int) -> list[tuple[str, str, str, str, str]]:
    rng = random.Random(seed)
    rows = sqlite3.connect(db).execute("SELECT last_name, first_name, birth_date, gender, zip FROM patient").fetchall()
    return [rows[rng.randrange(len(rows))] for _ in range(count)]


def sample_bodies(db: Path, count: int, seed: int) -> list[bytes]:
    return [history_body(*p) for p in sample_patients(db, count, seed)]


def register_client(path: Path) -> tuple[str, Any]:
    """The bench EDS, client and prescriber in the data directory's registry (once), and the client's key."""
    from gateway.auth.client_key import ClientKey

    saved = path / "bench-client.json"
    if saved.exists():
        data = json.loads(saved.read_text())
        return data["client_id"], ClientKey.from_private_jwk(data["key"])
    key = ClientKey.generate(kid="bench-1")
    (path / "bench-jwks.json").write_text(json.dumps(key.jwks()))
    eds = _cli_json(path, "eds", "add", "--name", "Bench EHR", "--state", "UT")["id"]
    client = _cli_json(path, "clients", "add", "--eds", eds, "--jwks", str(path / "bench-jwks.json"), "--scope", SCOPE)
    _cli_json(
        path, "users", "add", "--role", "prescriber", "--first", "ADAM", "--last", "AMSTER", "--npi", NPI, "--eds", eds
    )
    saved.write_text(json.dumps({"client_id": client["client_id"], "key": key.private_jwk()}))
    return client["client_id"], key


def _cli_json(path: Path, *args: str) -> Any:
    env = {**os.environ, "PMP_DATA_DIR": str(path)}
    out = subprocess.run([sys.executable, "-m", "pmpcli", *args, "--json"], env=env, capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"pmp-gateway {' '.join(args[:2])} failed: {out.stderr.strip()}")
    return json.loads(out.stdout)


def fetch_token(port: int, client_id: str, key: Any) -> str:
    from gateway.auth.client_key import token_form

    token_url = f"http://127.0.0.1:{port}/oauth/token"
    form = urllib.parse.urlencode(token_form(key.assertion(client_id, token_url), SCOPE)).encode()
    with urllib.request.urlopen(urllib.request.Request(token_url, data=form), timeout=10) as reply:
        return str(json.loads(reply.read())["access_token"])


# Each stage's cost: a gateway with the stage against the same gateway with that stage turned off, in the same run.
# (name, the settings both share, the settings that turn the stage off, allowed cost.) OAuth is measured with
# suspension and rate limits off on both sides: without a client or a user the limiter has nothing to charge, so
# against the full gateway the OAuth row would also count the limiter's Redis round trip.
NO_LIMITS = {"PMP_SUSPENSION": "false", "PMP_RATE_LIMIT": "false"}
STAGE_COSTS: tuple[tuple[str, dict[str, str], dict[str, str], float], ...] = (
    ("OAuth (authenticate + identify)", NO_LIMITS, {"PMP_AUTHENTICATE": "false", "PMP_IDENTIFY": "false"}, 0.05),
    ("audit (group commit)", {}, {"PMP_AUDIT": "false"}, 0.10),
    ("suspension + rate limit", {}, NO_LIMITS, 0.10),
)
# Limits on, high enough that the one bench user and EDS are never refused: the cost of checking is measured.
BENCH_QUOTAS = {"PMP_RATE_LIMIT_EDS": "100000000/60,burst=1000000", "PMP_RATE_LIMIT_USER": "100000000/60,burst=1000000"}


def start_gateway(path: Path, port: int, workers: int, *, off: dict[str, str] | None = None) -> subprocess.Popen[str]:
    env = {
        "PMP_REDIS_URL": "redis://127.0.0.1:6379/0",
        "PMP_REDIS_PREFIX": f"bench-{uuid.uuid4().hex}:",
        **BENCH_QUOTAS,
        **(off or {}),
    }
    proc, _ = start_cli(path, "serve", "--port", str(port), "--workers", str(workers), "--no-demo", env=env)
    return proc


def start_bare(port: int, workers: int, bodies: dict[str, tuple[bytes, str]]) -> subprocess.Popen[str]:
    """The baseline: aiohttp with the same worker count (SO_REUSEPORT), returning the gateway's bytes per route."""
    saved = {}
    for i, (route, (body, media)) in enumerate(bodies.items()):
        file = _bare_body_file(i)
        file.write_bytes(body)
        saved[route] = (str(file), media)
    script = f"""
import os, uvloop
from aiohttp import web
app = web.Application()
def answer(path, media):
    body = open(path, 'rb').read()
    async def handler(request):
        await request.read()
        return web.Response(body=body, content_type=media)
    return handler
for route, (path, media) in {saved!r}.items():
    app.router.add_post(route, answer(path, media))
for _ in range({workers} - 1):
    if os.fork() == 0:
        break
print('listening', flush=True)
web.run_app(app, host='127.0.0.1', port={port}, reuse_port=True, access_log=None, print=None,
            loop=uvloop.new_event_loop())
"""
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


def _bare_body_file(index: int) -> Path:
    from bench.common import workdir

    return workdir() / f"bare-body-{index}"


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


def fetch_one(port: int, route: Route, body: bytes) -> bytes:
    path, headers = route
    raw = wrk.request_bytes("127.0.0.1", port, path, body, {**headers, "Connection": "close"})
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(raw)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, payload = data.partition(b"\r\n\r\n")
    if b" 200 " not in head.split(b"\r\n")[0]:
        raise SystemExit(f"the gateway answered {head.splitlines()[0]!r}: {payload[:300]!r}")
    return payload


def _with_token(route: Route, token: str) -> Route:
    return route[0], {**route[1], "Authorization": f"Bearer {token}"}


@dataclasses.dataclass
class Variant:
    """One gateway configuration, running for the whole benchmark on its own port."""

    off: dict[str, str]
    port: int = 0
    proc: subprocess.Popen[str] | None = None
    runs: list[LoadResult] = dataclasses.field(default_factory=list)

    @property
    def authenticated(self) -> bool:
        return "PMP_AUTHENTICATE" not in self.off

    def route(self, route: Route, client_id: str, key: Any) -> Route:
        """A fresh token per run: the benchmark outlives an access token (≤ 5 minutes)."""
        return _with_token(route, fetch_token(self.port, client_id, key)) if self.authenticated else route

    def median(self, figure: str) -> float:
        """The median over this variant's runs of ``rate``, ``server_cpu_ms``, ``p50`` or ``p99``."""
        pick: dict[str, Callable[[LoadResult], float]] = {
            "rate": lambda r: r.rate,
            "server_cpu_ms": lambda r: r.server_cpu_ms,
            "p50": lambda r: r.percentile(0.5),
            "p99": lambda r: r.percentile(0.99),
        }
        return statistics.median(pick[figure](r) for r in self.runs)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dispensations", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3, help="alternating runs of every configuration")
    args = parser.parse_args()

    path = data_dir(args.dispensations, args.seed)
    patients = sample_patients(path / "pmpdb.sqlite3", 500, args.seed)
    fhir_bodies = [history_body(*p) for p in patients]
    ncpdp_bodies = [rx_history_body(*p) for p in patients]
    client_id, key = register_client(path)

    # Every configuration runs at once, each on its own port (idle ones cost nothing), and the load alternates
    # between them round after round: this machine drifts by ±25 % within minutes, and a stage's cost is the
    # median difference between neighbouring runs, not between runs minutes apart.
    variants: dict[str, Variant] = {}
    for _, shared, off, _ in STAGE_COSTS:
        for settings in (shared, {**shared, **off}):
            variants.setdefault(_key(settings), Variant(settings))
    full = variants[_key({})]
    bare_port = _free_port()
    bare: subprocess.Popen[str] | None = None
    try:
        for variant in variants.values():
            variant.port = _free_port()
            variant.proc = start_gateway(path, variant.port, args.workers, off=variant.off)
        fhir, ncpdp = full.route(FHIR, client_id, key), full.route(NCPDP, client_id, key)
        fhir_sample, ncpdp_sample = (
            fetch_one(full.port, fhir, fhir_bodies[0]),
            fetch_one(full.port, ncpdp, ncpdp_bodies[0]),
        )
        bare = start_bare(
            bare_port,
            args.workers,
            {FHIR[0]: (fhir_sample, "application/fhir+json"), NCPDP[0]: (ncpdp_sample, "application/xml")},
        )
        ours_ncpdp: list[LoadResult] = []
        base: list[LoadResult] = []
        base_ncpdp: list[LoadResult] = []
        for _ in range(max(1, args.rounds)):
            for variant in variants.values():
                assert variant.proc is not None
                route = variant.route(FHIR, client_id, key)
                variant.runs.append(_drive(variant.port, route, fhir_bodies, args, variant.proc.pid))
            assert full.proc is not None
            ours_ncpdp.append(_drive(full.port, full.route(NCPDP, client_id, key), ncpdp_bodies, args, full.proc.pid))
            base.append(_drive(bare_port, FHIR, fhir_bodies, args, bare.pid))
            base_ncpdp.append(_drive(bare_port, NCPDP, ncpdp_bodies, args, bare.pid))
        assert full.proc is not None
        rss = worker_peak_rss_mb(full.proc.pid)
    finally:
        stop(variant.proc for variant in variants.values())
        if bare is not None:
            os.killpg(bare.pid, 15)
            bare.wait(10)
    _report(
        args,
        variants,
        _median_run(base),
        _median_run(ours_ncpdp),
        _median_run(base_ncpdp),
        rss,
        fhir_sample,
        ncpdp_sample,
    )


def _key(settings: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(settings.items()))


def _report(
    args: argparse.Namespace,
    variants: dict[str, Variant],
    base: LoadResult,
    ours_ncpdp: LoadResult,
    base_ncpdp: LoadResult,
    rss: list[float],
    fhir_sample: bytes,
    ncpdp_sample: bytes,
) -> None:
    entries = sum(
        1
        for e in orjson.loads(fhir_sample)["parameter"][0]["resource"].get("entry", [])
        if e["resource"]["resourceType"] == "MedicationDispense"
    )
    full = variants[_key({})]
    pairs = [
        (name, variants[_key(shared)], variants[_key({**shared, **off})], allowed)
        for name, shared, off, allowed in STAGE_COSTS
    ]
    ours = _median_run(full.runs)
    rounds = len(full.runs)
    print_table(
        f"$pdmp-history, {args.dispensations:,} dispensations, {args.connections} connections, --workers "
        f"{args.workers}, every stage on, {entries} MedicationDispense in the first answer ({len(fhir_sample):,} B); "
        f"baseline: bare aiohttp, same bytes; the median of {rounds} alternating runs",
        load_rows(ours, base),
    )
    print_table(
        f"NCPDP RxHistoryRequest 2017071, same patients ({ncpdp_sample.count(b'<MedicationDispensed>')} "
        f"MedicationDispensed in the first answer, {len(ncpdp_sample):,} B); baseline: bare aiohttp, same bytes",
        load_rows(ours_ncpdp, base_ncpdp),
    )
    runs = "; ".join(f"{r.rate:,.0f} req/s {r.server_cpu_ms:.2f} ms" for r in full.runs)
    print(f"  every stage on, run by run: {runs}")
    for name, with_it, without_it, _ in pairs:
        shared = f" (both with {_key(with_it.off)})" if with_it.off else ""
        print_table(
            f"$pdmp-history with {name} against the same gateway without it{shared}; medians of {rounds} "
            "alternating runs each",
            [
                ("requests/s", with_it.median("rate"), without_it.median("rate"), "req/s"),
                ("latency p50", with_it.median("p50"), without_it.median("p50"), "ms"),
                ("latency p99", with_it.median("p99"), without_it.median("p99"), "ms"),
                ("server CPU per request", with_it.median("server_cpu_ms"), without_it.median("server_cpu_ms"), "ms"),
            ],
        )
    peaks = ", ".join(f"{r:.0f} MB" for r in rss)
    failed = sum(r.errors for v in variants.values() for r in v.runs) + ours_ncpdp.errors
    print(f"  load generator: {ours.tool}; failed or non-2xx answers: {failed}; worker peak RSS: {peaks}")
    for name, result in (("FHIR", ours), ("NCPDP", ours_ncpdp)):
        p99 = result.percentile(0.99)
        verdict(f"{name} ≥ 2,000 req/s", result.rate >= 2000, f"{result.rate:,.0f} req/s")
        verdict(f"{name} p99 ≤ 30 ms", p99 <= 30, f"{p99:.1f} ms")
    verdict("peak RSS per worker ≤ 150 MB", bool(rss) and max(rss) <= 150, f"{max(rss, default=0):.0f} MB")
    for name, with_it, without_it, allowed in pairs:
        # On a CPU-bound box a stage's throughput cost is the CPU it adds to a request: both are shown, and the
        # verdict needs both within the allowance.
        rate_cost = 1 - with_it.median("rate") / without_it.median("rate")
        cpu_cost = 1 - without_it.median("server_cpu_ms") / with_it.median("server_cpu_ms")
        verdict(
            f"{name} costs ≤ {allowed:.0%} of throughput",
            rate_cost <= allowed and cpu_cost <= allowed,
            f"{rate_cost:+.1%} req/s, {cpu_cost:+.1%} of the CPU per request (medians of {rounds} runs)",
        )


if __name__ == "__main__":
    main()
