"""End to end: the demo files ingest into the SQLite store in name order and leave the ground truth's state."""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path

from pmpdb.demo import generate, write_demo
from pmpdb.ingest import ingest_path
from pmpdb.store.sqlite import SqliteStore


async def test_demo_files_ingest_to_the_ground_truth(tmp_path: Path) -> None:
    dataset = generate(80, 2, start=date(2024, 1, 1), end=date(2024, 6, 30))
    paths = write_demo(dataset, tmp_path / "files")
    store = SqliteStore(tmp_path / "pmp.sqlite")
    await store.open()
    try:
        reports = [await ingest_path(store, path) for path in sorted(paths[:-1])]
        assert [r.as_json()["status"] for r in reports] == ["accepted"] * len(reports)
        assert sum(r.counts.accepted for r in reports) == dataset.truth.reported
        assert sum(r.counts.revised for r in reports) == len(dataset.truth.revisions)
        assert sum(r.counts.voided for r in reports) == len(dataset.truth.voids)
        assert sum(r.counts.zero_reports for r in reports) == 1
        assert await store.count_dispensations() == dataset.truth.final_count
    finally:
        await store.close()
    # Every row is the truth's final dispensation: same keys, revised quantities and days supply.
    conn = sqlite3.connect(tmp_path / "pmp.sqlite")
    try:
        rows = {
            (pharmacy, rx, refill, filled): (ndc, quantity, days)
            for pharmacy, rx, refill, filled, ndc, quantity, days in conn.execute(
                "SELECT pharmacy_key, rx_number, refill_number, date_filled, ndc, quantity, days_supply"
                " FROM dispensation"
            )
        }
    finally:
        conn.close()
    expected = {
        (d.key.pharmacy, d.key.rx_number, d.key.refill_number, d.key.date_filled.isoformat()): (
            d.ndc,
            float(d.quantity),
            d.days_supply,
        )
        for p in dataset.truth.people
        for d in p.dispensations
    }
    assert rows == expected
