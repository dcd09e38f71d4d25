"""``SearchHistory`` latency over gRPC (pmpdb in its own process, one caller, unloaded) vs the direct store
query for the same patients (candidates + history, in-process, no gRPC, no matching).

Two query mixes: exact (name + DOB as reported) and fuzzy (a misspelt surname or a nickname).
Targets (issue 2, this 2-core machine, 1M dispensations): p99 ≤ 2 ms exact, ≤ 10 ms fuzzy.

    python -m bench.search --dispensations 1000000 --queries 2000
"""

from __future__ import annotations

import argparse
import asyncio
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dispensations", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
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


if __name__ == "__main__":
    main()
