"""The store contract, run against both backends (SQLite and the real PostgreSQL)."""

from __future__ import annotations

import pytest

from pmpdb.store.base import FileRecord, IngestCounts, Row, Store
from pmpdb.store.schema import DISPENSATION_COLUMNS, PATIENT_COLUMNS


def patient_row(pid: int, last: str = "SMITH", first: str = "JOHN", dob: str = "1980-02-03") -> Row:
    values = {
        "id": pid,
        "last_name": last,
        "first_name": first,
        "birth_date": dob,
        "gender": "M",
        "zip": "84101",
    }
    return tuple(values.get(c, "") for c in PATIENT_COLUMNS)


def dispensation_row(did: int, pid: int, filled: str, *, quantity: float = 30.0, status: str = "reported") -> Row:
    values: dict[str, object] = {
        "id": did,
        "patient_id": pid,
        "pharmacy_key": "ncpdp:1234567",
        "prescriber_key": "npi:1234567893",
        "rx_number": f"RX{did}",
        "date_written": filled,
        "date_filled": filled,
        "date_sold": filled,
        "refill_number": 0,
        "refills_authorized": 0,
        "product_qualifier": "01",
        "ndc": "00406052301",
        "quantity": quantity,
        "unit_code": "01",
        "days_supply": 30,
        "status": status,
        "source_file": 1,
    }
    return tuple(values.get(c, "") for c in DISPENSATION_COLUMNS)


PHARMACY = (
    "ncpdp:1234567",
    "1234567893",
    "1234567",
    "",
    "MAIN ST PHARMACY",
    "1 MAIN ST",
    "",
    "SALT LAKE CITY",
    "UT",
    "84101",
    "8015550100",
)
PRESCRIBER = ("npi:1234567893", "1234567893", "AS1234563", "", "UT-123", "SMITH", "ANNA", "", "")


async def _seed(store: Store, fills: list[str]) -> None:
    session = await store.begin_ingest()
    await session.upsert_pharmacies([PHARMACY])
    await session.upsert_prescribers([PRESCRIBER])
    await session.add_patients([(patient_row(7), "1980-02-03", ["L:SM0", "F:JN"])])
    assert await session.add_dispensations([dispensation_row(100 + i, 7, f) for i, f in enumerate(fills)]) == len(fills)
    await session.commit(FileRecord(1, "a" * 64, "seed.asap", "2026-01-01T00:00:00+00:00", IngestCounts(len(fills))))


async def test_new_store_is_empty_and_answers_ping(store: Store) -> None:
    assert await store.is_empty()
    await store.ping()
    assert await store.count_dispensations() == 0


async def test_candidates_by_birth_date_and_key(store: Store) -> None:
    await _seed(store, ["2026-01-05"])
    found = await store.candidates(["1980-02-03", "1980-03-02"], ["L:SM0"], 10)
    assert [p.id for p in found] == [7]
    assert found[0].last_name == "SMITH"
    assert await store.candidates(["1980-02-04"], ["L:SM0"], 10) == []
    assert await store.candidates(["1980-02-03"], ["L:XX"], 10) == []


async def test_history_newest_first_with_keyset_pages(store: Store) -> None:
    fills = [f"2026-01-{d:02d}" for d in range(1, 11)]
    await _seed(store, fills)
    page = await store.history([7], "2026-01-01", "2026-01-31", 4, None)
    assert page.total == 10
    assert [r[4] for r in page.rows] == ["2026-01-10", "2026-01-09", "2026-01-08", "2026-01-07"]
    last = page.rows[-1]
    page2 = await store.history([7], "2026-01-01", "2026-01-31", 4, (last[4], last[0]))
    assert [r[4] for r in page2.rows] == ["2026-01-06", "2026-01-05", "2026-01-04", "2026-01-03"]
    ranged = await store.history([7], "2026-01-03", "2026-01-04", 10, None)
    assert [r[4] for r in ranged.rows] == ["2026-01-04", "2026-01-03"]
    assert ranged.total == 2
    row = page.rows[0]
    assert row[22] == "MAIN ST PHARMACY"  # pharmacy joined
    assert row[32] == "SMITH"  # prescriber joined


async def test_duplicates_revisions_and_voids(store: Store) -> None:
    await _seed(store, ["2026-01-01", "2026-01-02"])
    session = await store.begin_ingest()
    assert await session.add_dispensations([dispensation_row(100, 7, "2026-01-01")]) == 0  # already on file
    assert await session.revise_dispensation(dispensation_row(101, 7, "2026-01-02", quantity=10, status="revised"))
    assert not await session.revise_dispensation(dispensation_row(999, 7, "2026-01-02"))
    assert await session.void_dispensation(100, 2) == "voided"
    assert await session.void_dispensation(100, 2) == "duplicate"
    assert await session.void_dispensation(555, 2) == "missing"
    assert await session.add_zero_report("ncpdp:1234567", "2026-01-01", "2026-01-07", 2)
    assert not await session.add_zero_report("ncpdp:1234567", "2026-01-01", "2026-01-07", 2)
    await session.commit(FileRecord(2, "b" * 64, "fix.asap", "2026-01-02T00:00:00+00:00", IngestCounts(3)))
    page = await store.history([7], "2026-01-01", "2026-01-31", 10, None)
    assert [(r[0], r[10], r[16]) for r in page.rows] == [(101, 10.0, "revised")]
    seen = await store.file_by_sha256("b" * 64)
    assert seen is not None and seen.counts.records == 3


async def test_abort_leaves_nothing(store: Store) -> None:
    session = await store.begin_ingest()
    await session.upsert_pharmacies([PHARMACY])
    await session.add_patients([(patient_row(7), "1980-02-03", ["L:SM0"])])
    await session.add_dispensations([dispensation_row(100, 7, "2026-01-01")])
    await session.abort()
    assert await store.is_empty()
    assert await store.candidates(["1980-02-03"], ["L:SM0"], 10) == []


async def test_drug_reference_replaced_whole(store: Store) -> None:
    row = ("00406052301", "Oxycodone 10 mg tablet", "oxycodone", "10", "mg", "tablet", "2", "opioid", "1.5", "")
    assert await store.load_drugs([row]) == 1
    assert await store.drug_count() == 1
    await _seed(store, ["2026-01-01"])
    page = await store.history([7], "2026-01-01", "2026-01-31", 10, None)
    assert page.rows[0][35] == "Oxycodone 10 mg tablet"
    assert await store.load_drugs([]) == 0
    assert await store.drug_count() == 0


@pytest.mark.postgres
async def test_postgres_unreachable_is_store_unavailable() -> None:
    from pmpdb.store.base import StoreUnavailableError
    from pmpdb.store.postgres import PostgresStore

    down = PostgresStore("postgresql://postgres@127.0.0.1:1/test", "pmpdb")
    with pytest.raises(StoreUnavailableError):
        await down.open()
