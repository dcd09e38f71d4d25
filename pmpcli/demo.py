"""Demo data: ``pmp-gateway demo-data`` and the load ``serve`` does into an empty store."""

from __future__ import annotations

import logging
from datetime import date, timedelta
from pathlib import Path

from pmpdb.demo import generate, write_demo
from pmpdb.ingest import ingest_path
from pmpdb.store.base import Store

log = logging.getLogger("pmpcli.demo")

DEMO_YEARS = 2


def demo_window(today: date | None = None) -> tuple[date, date]:
    """The demo fills span the last two years, so a default (12-month) query finds recent ones."""
    end = today or date.today()
    return end - timedelta(days=365 * DEMO_YEARS), end


def write_demo_files(out: Path, *, patients: int, seed: int) -> list[Path]:
    start, end = demo_window()
    return write_demo(generate(patients, seed, start=start, end=end), out)


def demo_data(out: Path, *, patients: int, seed: int) -> int:
    paths = write_demo_files(out, patients=patients, seed=seed)
    for p in paths:
        print(p)
    return 0


async def load_demo_if_empty(store: Store, data_dir: Path) -> None:
    """``serve``'s rule: demo data only into a store that has never held anything."""
    if await store.is_empty():
        await load_demo(store, data_dir / "demo")


async def load_demo(store: Store, out: Path, *, patients: int = 200, seed: int = 0) -> int:
    """Write the demo files under ``out`` and ingest them in order; returns dispensations accepted."""
    accepted = 0
    for path in sorted(write_demo_files(out, patients=patients, seed=seed)):
        if path.suffix == ".json":
            continue
        report = await ingest_path(store, path)
        if report.rejected:
            raise RuntimeError(f"demo file {path.name} was rejected: {report.errors[:3]}")
        accepted += report.counts.accepted
    log.info("demo data loaded", extra={"dispensations": accepted})
    return accepted
