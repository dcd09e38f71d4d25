"""``SearchHistory`` latency over gRPC (pmpdb in its own process, one caller, unloaded) vs the direct store
query for the same patients (candidates + history, in-process, no gRPC, no matching).

Two query mixes: exact (name + DOB as reported) and fuzzy (a misspelt surname or a nickname).
Targets (issue 2, this 2-core machine, 1M dispensations): p99 ≤ 2 ms exact, ≤ 10 ms fuzzy.

Clinical indicators (issue 8): two more pmpdb servers on the same store, one with indicators on and one with them
off (``SearchLimits.indicators``), answer the same exact queries in alternation (so drift hits both alike); the
figure is on vs off. Target: ≤ 10% added p99.

    python -m bench.search --dispensations 1000000 --queries 2000
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import grpc

from bench.common import percentile, print_table, start_cli, verdict, workdir
from bench.ingest import bulk_file, bulk_period
from protos.pmp.v1 import pmp_pb2 as pb
from protos.pmp.v1 import pmp_pb2_grpc as pb_grpc

WINDOW = tuple(d.isoformat() for d in bulk_period())  # every fill of the bulk file
NICKNAMES = {
    "WILLIAM": "BILL",
    "ROBERT": "BOB",
    "MARGARET": "PEGGY",
    "ELIZABETH": "LIZ",
    "JAMES": "JIM",
    "RICHARD": "DICK",
    "JOSEPH": "JOE",
    "KATHERINE": "KATHY",
    "MICHAEL": "MIKE",
    "THOMAS": "TOM",
    "JENNIFER": "JENNY",
    "PATRICIA": "PATTY",
    "CHRISTOPHER": "CHRIS",
    "DANIEL": "DAN",
}


def data_dir(dispensations: int, seed: int) -> Path:
    """A PMP_DATA_DIR holding a store with ``dispensations`` rows (built once, then reused)."""
    from pmpdb.demo.bulk import LAYOUT_VERSION

    path = workdir() / f"search-v{LAYOUT_VERSION}-{bulk_period()[0].year}-{dispensations}-{seed}"
    db = path / "pmpdb.sqlite3"
    if not (path / ".ready").exists():
        path.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        env = {**os.environ, "PMP_DATA_DIR": str(path), "PMP_STORE": "sqlite"}
        subprocess.run(
            [sys.executable, "-m", "pmpcli", "ingest", str(bulk_file(dispensations, seed))],
            check=True,
            env=env,
        )
        (path / ".ready").touch()
    return path


def misspell(name: str, rng: random.Random) -> str:
    """Swap two inner letters or double one: the typos a matcher must survive."""
    if len(name) < 4:
        return name + name[-1]
    i = rng.randrange(1, len(name) - 2)
    return name[:i] + name[i + 1] + name[i] + name[i + 2 :] if rng.random() < 0.5 else name[:i] + name[i] + name[i:]


def sample_queries(db: Path, count: int, seed: int) -> tuple[list[pb.PatientQuery], list[pb.PatientQuery]]:
    rng = random.Random(seed)
    conn = sqlite3.connect(db)
    rows = conn.execute("SELECT last_name, first_name, birth_date, gender, zip FROM patient").fetchall()
    picks = [rows[rng.randrange(len(rows))] for _ in range(count)]
    exact, fuzzy = [], []
    for last, first, dob, gender, zip_code in picks:
        g = {"F": pb.GENDER_FEMALE, "M": pb.GENDER_MALE}.get(gender, pb.GENDER_UNSPECIFIED)
        address = pb.Address(postal_code=zip_code)
        exact.append(
            pb.PatientQuery(name=pb.HumanName(family=last, given=first), birth_date=dob, gender=g, address=address)
        )
        nick = NICKNAMES.get(first.upper())
        name = (
            pb.HumanName(family=last, given=nick)
            if nick and rng.random() < 0.5
            else pb.HumanName(family=misspell(last, rng), given=first)
        )
        fuzzy.append(pb.PatientQuery(name=name, birth_date=dob, gender=g, address=address))
    return exact, fuzzy


def start_pmpdb(path: Path) -> tuple[subprocess.Popen[str], int]:
    proc, line = start_cli(path, "pmpdb", "--listen", "127.0.0.1:0")
    return proc, int(line.rsplit(" ", 1)[1])


async def time_grpc(port: int, queries: list[pb.PatientQuery]) -> tuple[list[float], float]:
    found = 0
    samples: list[float] = []
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = pb_grpc.PrescriptionSearchStub(channel)
        window = pb.DateRange(start=WINDOW[0], end=WINDOW[1])
        for q in queries[:50]:  # warm-up
            await stub.SearchHistory(pb.SearchHistoryRequest(patient=q, date_range=window), timeout=5)
        for q in queries:
            started = time.perf_counter()
            reply = await stub.SearchHistory(pb.SearchHistoryRequest(patient=q, date_range=window), timeout=5)
            samples.append((time.perf_counter() - started) * 1e3)
            found += reply.match_status == pb.MATCH_STATUS_FOUND
    return samples, found / len(queries)


async def time_direct(db: Path, queries: list[pb.PatientQuery]) -> list[float]:
    """The store's own cost for the same patient: candidate lookup + history page, no gRPC, no scoring."""
    from pmpdb.matching import query_plan
    from pmpdb.patients import demographics_of_query
    from pmpdb.store.sqlite import SqliteStore

    store = SqliteStore(db)
    await store.open()
    samples: list[float] = []
    for q in queries:
        plan = query_plan(demographics_of_query(q))
        started = time.perf_counter()
        records = await store.candidates(plan.birth_dates, plan.keys, 200)
        await store.history([r.id for r in records], WINDOW[0], WINDOW[1], 101, None)
        samples.append((time.perf_counter() - started) * 1e3)
    await store.close()
    return samples


async def _serve(db: Path, indicators: bool) -> None:
    """A pmpdb server over ``db`` with indicators on or off (``--serve``: a child process of this benchmark)."""
    from pmpdb.drugs import load_drugs
    from pmpdb.search import HistorySearch, SearchLimits
    from pmpdb.server import start_server
    from pmpdb.store.sqlite import SqliteStore

    store = SqliteStore(db)
    await store.open()
    if await store.drug_count() == 0:
        await load_drugs(store)
    running = await start_server(HistorySearch(store, SearchLimits(indicators=indicators)), "127.0.0.1:0")
    print(f"listening on port {running.port}", flush=True)
    await asyncio.Event().wait()


def start_variant(db: Path, indicators: bool) -> tuple[subprocess.Popen[str], int]:
    flag = "on" if indicators else "off"
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.search", "--serve", str(db), "--indicators", flag],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "listening" not in line:
        proc.kill()
        raise SystemExit(f"pmpdb (indicators {flag}) did not start: {line!r}")
    return proc, int(line.rsplit(" ", 1)[1])


async def time_indicators(
    on_port: int, off_port: int, queries: list[pb.PatientQuery]
) -> tuple[list[float], list[float], float]:
    """The same queries against the indicators-on and -off servers, alternating which goes first."""
    window = pb.DateRange(start=WINDOW[0], end=WINDOW[1])
    on_ms: list[float] = []
    off_ms: list[float] = []
    alerts = 0
    async with (
        grpc.aio.insecure_channel(f"127.0.0.1:{on_port}") as on_channel,
        grpc.aio.insecure_channel(f"127.0.0.1:{off_port}") as off_channel,
    ):
        on, off = pb_grpc.PrescriptionSearchStub(on_channel), pb_grpc.PrescriptionSearchStub(off_channel)
        for q in queries[:50]:  # warm-up
            for stub in (on, off):
                await stub.SearchHistory(pb.SearchHistoryRequest(patient=q, date_range=window), timeout=5)
        for i, q in enumerate(queries):
            order = ((on, on_ms), (off, off_ms)) if i % 2 == 0 else ((off, off_ms), (on, on_ms))
            for stub, samples in order:
                started = time.perf_counter()
                reply = await stub.SearchHistory(pb.SearchHistoryRequest(patient=q, date_range=window), timeout=5)
                samples.append((time.perf_counter() - started) * 1e3)
                if stub is on:
                    alerts += bool(reply.alerts)
    return on_ms, off_ms, alerts / len(queries)


def compare_indicators(db: Path, queries: list[pb.PatientQuery]) -> None:
    on_proc, on_port = start_variant(db, True)
    try:
        off_proc, off_port = start_variant(db, False)
        try:
            on_ms, off_ms, with_alerts = asyncio.run(time_indicators(on_port, off_port, queries))
        finally:
            off_proc.terminate()
            off_proc.wait(10)
    finally:
        on_proc.terminate()
        on_proc.wait(10)
    rows = [
        (f"SearchHistory indicators p{round(q * 100)}", percentile(on_ms, q), percentile(off_ms, q), "ms")
        for q in (0.5, 0.99)
    ]
    print_table("Clinical indicators on vs off (baseline: the same pmpdb with SearchLimits.indicators=False)", rows)
    print(f"  answers with an alert: {with_alerts:.1%}")
    added = percentile(on_ms, 0.99) / percentile(off_ms, 0.99) - 1
    verdict("indicators add ≤ 10% to p99", added <= 0.10, f"{added:+.1%}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dispensations", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)  # child: a pmpdb server over this store
    parser.add_argument("--indicators", choices=("on", "off"), default="on", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(_serve(args.serve, args.indicators == "on"))
        return
    path = data_dir(args.dispensations, args.seed)
    exact, fuzzy = sample_queries(path / "pmpdb.sqlite3", args.queries, args.seed)
    proc, port = start_pmpdb(path)
    try:
        exact_ms, exact_found = asyncio.run(time_grpc(port, exact))
        fuzzy_ms, fuzzy_found = asyncio.run(time_grpc(port, fuzzy))
    finally:
        proc.terminate()
        proc.wait(10)
    direct_ms = asyncio.run(time_direct(path / "pmpdb.sqlite3", exact))
    rows = []
    for label, ms in (("exact", exact_ms), ("fuzzy", fuzzy_ms)):
        for q in (0.5, 0.99):
            rows.append(
                (
                    f"SearchHistory {label} p{round(q * 100)}",
                    percentile(ms, q),
                    percentile(direct_ms, q),
                    "ms",
                )
            )
    print_table(
        f"SearchHistory over gRPC, {args.dispensations:,} dispensations, {args.queries:,} queries each"
        " (baseline: direct store query, exact)",
        rows,
    )
    print(f"  found: exact {exact_found:.1%}, fuzzy {fuzzy_found:.1%}")
    verdict("exact p99 ≤ 2 ms", percentile(exact_ms, 0.99) <= 2.0, f"{percentile(exact_ms, 0.99):.2f} ms")
    verdict("fuzzy p99 ≤ 10 ms", percentile(fuzzy_ms, 0.99) <= 10.0, f"{percentile(fuzzy_ms, 0.99):.2f} ms")
    compare_indicators(path / "pmpdb.sqlite3", exact)


if __name__ == "__main__":
    main()
