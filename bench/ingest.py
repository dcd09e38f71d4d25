"""Ingest throughput: ``pmp-gateway ingest`` of an N-record ASAP file into SQLite vs a raw
``sqlite3.executemany`` of the same rows into the same schema.

Each side runs in a fresh child process so peak memory (ru_maxrss) is the ingest's own.
Targets (issue 2, this 2-core machine): ≥ 100,000 records/s, peak memory ≤ 300 MB.

    python -m bench.ingest --records 1000000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sqlite3
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

from bench.common import print_table, verdict, workdir

TARGET_RATE = 100_000
TARGET_MB = 300


def bulk_period() -> tuple[date, date]:
    """The fills of a benchmark file: last calendar year, so they stay inside the state's look-back window."""
    year = date.today().year - 1
    return date(year, 1, 1), date(year, 12, 31)


def bulk_file(records: int, seed: int) -> Path:
    from pmpdb.demo.bulk import LAYOUT_VERSION, generate_bulk_file

    start, end = bulk_period()
    path = workdir() / f"bulk-v{LAYOUT_VERSION}-{start.year}-{records}-{seed}.asap"
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        generate_bulk_file(tmp, records, seed, start=start, end=end)
        tmp.rename(path)
    return path


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_ingest(asap: Path, db: Path) -> dict[str, float]:
    from pmpdb.ingest import ingest_path
    from pmpdb.store.sqlite import SqliteStore

    async def go() -> dict[str, float]:
        store = SqliteStore(db)
        await store.open()
        started = time.perf_counter()
        report = await ingest_path(store, asap)
        elapsed = time.perf_counter() - started
        await store.close()
        if report.rejected:
            raise SystemExit(f"bench file rejected: {report.errors[:3]}")
        return {"seconds": elapsed, "records": report.counts.accepted, "peak_mb": _peak_mb()}

    return asyncio.run(go())


def child_baseline(source_db: Path, db: Path) -> dict[str, float]:
    from pmpdb.store.schema import DISPENSATION_COLUMNS, tables

    # in the order ingest wrote them (rowid), so both sides insert the same rows in the same order
    rows = sqlite3.connect(source_db).execute(f"SELECT {','.join(DISPENSATION_COLUMNS)} FROM dispensation").fetchall()
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    for ddl in tables("sqlite"):
        conn.execute(ddl)
    placeholders = ",".join("?" * len(DISPENSATION_COLUMNS))
    started = time.perf_counter()
    conn.execute("BEGIN")
    conn.executemany(f"INSERT INTO dispensation ({','.join(DISPENSATION_COLUMNS)}) VALUES ({placeholders})", rows)
    conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    return {"seconds": elapsed, "records": len(rows), "peak_mb": _peak_mb()}


def _run_child(*args: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-m", "bench.ingest", "--child", *args], check=True, capture_output=True, text=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--child", nargs="+")
    args = parser.parse_args()
    if args.child:
        kind, a, b = args.child
        result = child_ingest(Path(a), Path(b)) if kind == "ingest" else child_baseline(Path(a), Path(b))
        print(json.dumps(result))
        return

    asap = bulk_file(args.records, args.seed)
    ours_db = workdir() / f"ingest-ours-{args.records}.sqlite3"
    base_db = workdir() / f"ingest-base-{args.records}.sqlite3"
    for db in (ours_db, base_db):
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
    ours = _run_child("ingest", str(asap), str(ours_db))
    base = _run_child("baseline", str(ours_db), str(base_db))
    ours_rate = ours["records"] / ours["seconds"]
    base_rate = base["records"] / base["seconds"]
    print_table(
        f"ingest {int(ours['records']):,} records from {asap.stat().st_size / 1e6:,.0f} MB of ASAP 4.2 into SQLite",
        [
            ("records/s (ingest vs executemany)", ours_rate, base_rate, "rec/s"),
            ("seconds", ours["seconds"], base["seconds"], "s"),
            ("peak memory", ours["peak_mb"], base["peak_mb"], "MB"),
        ],
    )
    verdict("≥ 100,000 records/s", ours_rate >= TARGET_RATE, f"{ours_rate:,.0f} rec/s")
    verdict("peak memory ≤ 300 MB", ours["peak_mb"] <= TARGET_MB, f"{ours['peak_mb']:,.0f} MB")


if __name__ == "__main__":
    main()
