"""ASAP ingestion into both backends: counts, revisions, voids, idempotency, and all-or-nothing rejection."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from adapters.asap.writer import format_asap
from pmpdb.ingest import IngestReport, ingest_path, ingest_stream
from pmpdb.store.base import Store
from tests.asap_files import OTHER_PHARMACY, PHARMACY, as_bytes, asap_file, fill, patient, raw

JOHN = patient()
MARY = patient("JONES", "MARY", "19751111", "F")


async def _ingest(store: Store, data: tuple[io.BytesIO, str], name: str = "f.asap") -> IngestReport:
    stream, sha = data
    return await ingest_stream(store, stream, name=name, sha256=sha)


async def _fills(store: Store) -> list[tuple[str, float, str]]:
    ids = [p.id for p in await store.candidates(["1980-02-03", "1975-11-11"], ["L:SM0", "L:JNS"], 50)]
    page = await store.history(ids, "2000-01-01", "2030-01-01", 100, None)
    return sorted((r[2], r[10], r[16]) for r in page.rows)


async def test_new_records_then_revision_and_void(store: Store) -> None:
    first = asap_file(
        [
            (
                PHARMACY,
                [
                    (JOHN, fill("RX1", "20261001")),
                    (JOHN, fill("RX2", "20261002")),
                    (MARY, fill("RX3", "20261003")),
                ],
            )
        ]
    )
    report = await _ingest(store, as_bytes(first), "first.asap")
    assert report.as_json()["status"] == "accepted"
    assert (report.counts.records, report.counts.accepted) == (3, 3)
    assert await store.count_dispensations() == 3

    fix = asap_file(
        [
            (
                PHARMACY,
                [
                    (JOHN, fill("RX1", "20261001", status="01", quantity="10")),
                    (JOHN, fill("RX2", "20261002", status="02")),
                ],
            )
        ],
        control="1002",
    )
    report = await _ingest(store, as_bytes(fix), "fix.asap")
    assert (report.counts.revised, report.counts.voided, report.rejected) == (1, 1, False)
    assert await store.count_dispensations() == 2
    john = await store.candidates(["1980-02-03"], ["L:SM0"], 10)
    page = await store.history([p.id for p in john], "2026-01-01", "2026-12-31", 10, None)
    assert [(r[2], r[10], r[16]) for r in page.rows] == [("RX1", 10.0, "revised")]


async def test_reingesting_the_same_file_changes_nothing(store: Store) -> None:
    data = format_bytes = as_bytes(asap_file([(PHARMACY, [(JOHN, fill("RX1", "20261001"))])]))
    first = await _ingest(store, data)
    format_bytes[0].seek(0)
    again = await _ingest(store, format_bytes)
    assert first.counts.accepted == 1
    assert again.already_ingested and again.counts.accepted == 0 and again.counts.duplicates == 1
    assert again.as_json()["status"] == "already-ingested"
    assert await store.count_dispensations() == 1


async def test_records_resent_in_a_new_file_are_duplicates(store: Store) -> None:
    await _ingest(store, as_bytes(asap_file([(PHARMACY, [(JOHN, fill("RX1", "20261001"))])])))
    resent = asap_file([(PHARMACY, [(JOHN, fill("RX1", "20261001")), (JOHN, fill("RX9", "20261009"))])], "77")
    report = await _ingest(store, as_bytes(resent))
    assert (report.counts.accepted, report.counts.duplicates) == (1, 1)


async def test_same_rx_at_two_pharmacies_is_two_dispensations(store: Store) -> None:
    both = asap_file(
        [(PHARMACY, [(JOHN, fill("RX1", "20261001"))]), (OTHER_PHARMACY, [(JOHN, fill("RX1", "20261001"))])]
    )
    report = await _ingest(store, as_bytes(both))
    assert report.counts.accepted == 2


async def test_void_of_unknown_record_rejects_the_whole_file(store: Store) -> None:
    bad = asap_file([(PHARMACY, [(JOHN, fill("RX1", "20261001")), (JOHN, fill("RX404", "20261002", status="02"))])])
    report = await _ingest(store, as_bytes(bad))
    assert report.rejected
    assert [(e.segment, e.field) for e in report.errors] == [("DSP", "DSP01")]
    assert "not on file" in report.errors[0].reason
    assert report.as_json()["accepted"] == 0
    assert await store.is_empty()


async def test_revision_of_unknown_record_rejects_the_whole_file(store: Store) -> None:
    bad = asap_file([(PHARMACY, [(JOHN, fill("RX1", "20261001", status="01"))])])
    report = await _ingest(store, as_bytes(bad))
    assert report.rejected and await store.is_empty()


async def test_reader_errors_reject_the_whole_file_and_load_nothing(store: Store) -> None:
    good = as_bytes(asap_file([(PHARMACY, [(JOHN, fill("RX1", "20261001")), (MARY, fill("RX2", "20261002"))])]))
    text = good[0].getvalue().decode()
    for broken in (
        text.replace("20261002", "20261302", 1),  # a bad date
        text.replace("TT*1001*", "TT*1001*9", 1),  # a wrong count
        text[: len(text) // 2],  # truncated
        text.replace("*30*30*", "*thirty*30*", 1),  # a bad quantity
    ):
        report = await _ingest(store, raw(broken.encode()))
        assert report.rejected, broken[-80:]
        assert all(e.segment_number and e.segment and e.reason for e in report.errors)  # field: "" if structural
        assert "SMITH" not in str(report.as_json())  # no PHI in error reports
        assert await store.is_empty()


async def test_garbage_and_huge_lines_load_nothing(store: Store) -> None:
    for data in (b"", b"\x00\xff\xfe garbage \x89PNG", b"TH*" + b"A" * 200_000):
        report = await _ingest(store, raw(data))
        assert report.rejected
        assert await store.is_empty()


async def test_zero_report_recorded_not_as_a_patient(store: Store) -> None:
    zero = (
        b"TH*4.2A*123456*01**20150101*223000*T**\\\\\nIS*7705555555*PHARMACY NAME*#20150101#-#20150107#\\\n"
        b"PHA***ZZ1234567**********\\\nPAT*******REPORT*ZERO************01***\\\n"
        b"DSP*00****20150101********************\\\nPRE*********\\\nCDI*****\\\nAIR***********\\\n"
        b"TP*7\\\nTT*123456*10\\\n"
    )
    report = await _ingest(store, raw(zero))
    assert not report.rejected, report.errors
    assert (report.counts.zero_reports, report.counts.accepted) == (1, 0)
    assert await store.count_dispensations() == 0
    assert await store.candidates(["2015-01-01"], ["L:RPRT"], 10) == []


@pytest.mark.parametrize("parallel", [False, True], ids=["inline", "worker-process"])
async def test_ingest_path_in_both_modes(store: Store, tmp_path: Path, parallel: bool) -> None:
    first = tmp_path / "first.asap"
    first.write_text(
        format_asap(asap_file([(PHARMACY, [(JOHN, fill("RX1", "20261001")), (MARY, fill("RX2", "20261002"))])]))
    )
    fix = tmp_path / "fix.asap"
    fix.write_text(
        format_asap(
            asap_file(
                [
                    (
                        PHARMACY,
                        [
                            (JOHN, fill("RX1", "20261001", status="01", quantity="5")),
                            (MARY, fill("RX2", "20261002", status="02")),
                        ],
                    )
                ],
                control="2",
            )
        )
    )
    seen: list[int] = []
    report = await ingest_path(store, first, parallel=parallel, progress=seen.append)
    assert (report.status, report.counts.records, report.counts.accepted) == ("accepted", 2, 2)
    assert sum(seen) == first.stat().st_size
    report = await ingest_path(store, fix, parallel=parallel)
    assert (report.counts.revised, report.counts.voided) == (1, 1)
    assert await store.count_dispensations() == 1

    bad = tmp_path / "bad.asap"
    bad.write_text(
        format_asap(asap_file([(PHARMACY, [(JOHN, fill("RX7", "20261007"))])], control="3")).replace("TT*3*", "TT*3*1")
    )
    report = await ingest_path(store, bad, parallel=parallel)
    assert report.rejected and report.errors[0].segment == "TT"
    assert await store.count_dispensations() == 1
