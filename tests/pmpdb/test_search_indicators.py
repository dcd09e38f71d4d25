"""HistorySearch's clinical indicators on both backends: MME per dispensation, the person's indicators and alerts
over every fill in the period — from the page when it holds them all, from one more query when it does not, the
same either way — none on later pages, none when turned off, and the factor table chosen by the caller."""

from __future__ import annotations

import random
from datetime import date

from adapters.asap.model import (
    AsapFile,
    DispensationRecord,
    InformationSource,
    Pharmacy,
    PharmacyLoop,
    Prescriber,
    TransactionHeader,
)
from pmpdb.demo.identifiers import make_dea, make_ncpdp, make_npi
from pmpdb.drugs import load_drugs
from pmpdb.indicators import Thresholds
from pmpdb.ingest import ingest_stream
from pmpdb.search import HistorySearch, SearchLimits
from pmpdb.store.base import Store
from protos.pmp.v1 import pmp_pb2 as pb
from tests.asap_files import PHARMACY, PRESCRIBER, as_bytes, fill, patient

TODAY = date(2026, 11, 23)
JOHN = patient("SMITH", "JOHN", "19800203")
WINDOW = pb.DateRange(start="2026-01-01", end="2026-11-23")
OXY30, OXY5, ALPRAZOLAM, HYDROCODONE, UNKNOWN = (
    "00406853001",
    "00406055201",
    "00009005501",
    "00406012501",
    "00591038501",
)


def _providers(count: int) -> list[tuple[Pharmacy, Prescriber]]:
    rng = random.Random(8)
    out = []
    for i in range(count):
        pharmacy = Pharmacy(
            npi=make_npi(rng),
            ncpdp=make_ncpdp(rng),
            dea=make_dea(rng, "B", "PHARMACY"),
            name=f"PHARMACY {i}",
            address1=f"{i} MAIN ST",
            city="PROVO",
            state="UT",
            zip="84601",
        )
        last = f"DOC{chr(65 + i)}"
        prescriber = Prescriber(
            npi=make_npi(rng), dea=make_dea(rng, "A", last), state_license="", last_name=last, first_name="X"
        )
        out.append((pharmacy, prescriber))
    return out


def history_file() -> AsapFile:
    """Nine fills for John (hand-computed indicators in ``test_indicators_over_every_fill``)."""
    records: list[DispensationRecord] = [
        DispensationRecord(PHARMACY, JOHN, fill("RXA", "20261001", ndc=OXY30, quantity="120", days="30"), PRESCRIBER),
        DispensationRecord(PHARMACY, JOHN, fill("RXB", "20261020", ndc=OXY5, quantity="60", days="30"), PRESCRIBER),
        DispensationRecord(
            PHARMACY, JOHN, fill("RXC", "20261101", ndc=ALPRAZOLAM, quantity="60", days="30"), PRESCRIBER
        ),
        DispensationRecord(PHARMACY, JOHN, fill("RXD", "20260615", ndc=UNKNOWN, quantity="30", days="30"), PRESCRIBER),
    ]
    for i, (pharmacy, prescriber) in enumerate(_providers(5)):
        when = f"202603{1 + 7 * i:02d}"
        records.append(
            DispensationRecord(
                pharmacy, JOHN, fill(f"RXM{i}", when, ndc=HYDROCODONE, quantity="20", days="5"), prescriber
            )
        )
    header = TransactionHeader("4.2", "2001", "01", "", "20261120", "1200", "P", "", "~")
    out = AsapFile(header, InformationSource("7705555555", "TEST SUBMITTER", ""))
    by_pharmacy: dict[str, PharmacyLoop] = {}
    for seg, record in enumerate(records, start=1):
        loop = by_pharmacy.get(record.pharmacy.key)
        if loop is None:
            loop = by_pharmacy[record.pharmacy.key] = PharmacyLoop(record.pharmacy)
            out.pharmacies.append(loop)
        loop.records.append(
            DispensationRecord(
                record.pharmacy, record.patient, record.dispensing, record.prescriber, segment_number=seg
            )
        )
    return out


async def _load(store: Store) -> None:
    await load_drugs(store)
    stream, sha = as_bytes(history_file())
    report = await ingest_stream(store, stream, name="f", sha256=sha)
    assert not report.rejected, report.errors[:3]


def _search(store: Store, **limits: object) -> HistorySearch:
    return HistorySearch(store, SearchLimits(**limits), state_code="UT", today=TODAY)  # type: ignore[arg-type]


def _req(page_size: int = 0, page_token: str = "") -> pb.SearchHistoryRequest:
    return pb.SearchHistoryRequest(
        patient=pb.PatientQuery(name=pb.HumanName(family="SMITH", given="JOHN"), birth_date="1980-02-03"),
        date_range=WINDOW,
        page_size=page_size,
        page_token=page_token,
    )


async def test_indicators_over_every_fill(store: Store) -> None:
    await _load(store)
    reply = await _search(store).search(_req())
    assert reply.match_status == pb.MATCH_STATUS_FOUND and len(reply.dispensations) == 9
    mme = {d.rx_number: d.mme_per_day for d in reply.dispensations if d.HasField("mme_per_day")}
    # 30 mg × 4/day × 1.5; 5 mg × 2/day × 1.5; hydrocodone 10 mg × 4/day × 1
    assert mme == {"RXA": 180.0, "RXB": 15.0, **{f"RXM{i}": 40.0 for i in range(5)}}
    assert not any(d.HasField("lme_per_day") for d in reply.dispensations)
    ind = reply.indicators
    assert ind.as_of == "2026-11-23" and ind.mme_factors == "cdc2022"
    assert (ind.peak_mme, ind.peak_mme_date) == (195.0, "2026-10-20")  # Oct 20–30: 180 + 15
    assert ind.current_mme == 0  # oxycodone ran out on Nov 18
    assert ind.active_prescriptions == 1  # alprazolam, Nov 1–30
    assert (ind.prescribers_90d, ind.pharmacies_90d) == (5, 5)
    assert (ind.provider_window.start, ind.provider_window.end) == ("2026-03-01", "2026-03-29")
    assert ind.overlap_days == 18  # Nov 1–18
    assert (ind.unconverted_opioids, ind.unknown_drugs) == (0, 1)
    assert [a.code for a in reply.alerts] == ["05", "03", "04"]
    mme_alert, mpe_alert, overlap_alert = reply.alerts
    assert (mme_alert.value, mme_alert.threshold) == (195.0, 90.0)
    assert (mme_alert.period.start, mme_alert.period.end) == ("2026-10-01", "2026-10-30")
    assert mpe_alert.value == 5 and overlap_alert.value == 18
    assert (overlap_alert.period.start, overlap_alert.period.end) == ("2026-11-01", "2026-11-18")


async def test_a_partial_page_gives_the_same_indicators_and_later_pages_none(store: Store) -> None:
    await _load(store)
    search = _search(store)
    whole = await search.search(_req(page_size=50))
    first = await search.search(_req(page_size=3))
    assert len(first.dispensations) == 3 and first.next_page_token
    assert first.indicators == whole.indicators
    assert list(first.alerts) == list(whole.alerts)
    second = await search.search(_req(page_size=3, page_token=first.next_page_token))
    assert not second.HasField("indicators") and not second.alerts
    assert [d.HasField("mme_per_day") for d in second.dispensations] == [
        d.HasField("mme_per_day") for d in whole.dispensations[3:6]
    ]


async def test_indicators_turned_off(store: Store) -> None:
    await _load(store)
    reply = await _search(store, indicators=False).search(_req(page_size=3))
    assert not reply.HasField("indicators") and not reply.alerts
    assert not any(d.HasField("mme_per_day") for d in reply.dispensations)  # the whole feature is off


async def test_factor_table_and_thresholds_come_from_the_caller(store: Store) -> None:
    await _load(store)
    strict = Thresholds(mme_per_day=200, mpe_prescribers=6, overlap_days=19)
    reply = await _search(store, mme_factors="cdc2016", thresholds=strict).search(_req())
    assert reply.indicators.mme_factors == "cdc2016"
    assert reply.indicators.peak_mme == 195.0  # oxycodone and hydrocodone: the same factors in 2016
    assert not reply.alerts
    lenient = await _search(store, thresholds=Thresholds(mme_per_day=195)).search(_req())
    assert "CDC 2022" in lenient.alerts[0].text and lenient.alerts[0].code == "05"


async def test_without_a_drug_reference_nothing_is_made_up(store: Store) -> None:
    stream, sha = as_bytes(history_file())
    assert not (await ingest_stream(store, stream, name="f", sha256=sha)).rejected
    reply = await _search(store).search(_req())
    assert not any(d.HasField("mme_per_day") for d in reply.dispensations)
    assert reply.indicators.peak_mme == 0 and reply.indicators.unknown_drugs == 9
    assert [a.code for a in reply.alerts] == ["03"]  # providers are known without the drug reference
