"""HistorySearch on both backends: validation, match outcomes, paging and the date window."""

from __future__ import annotations

from datetime import date

import pytest

from pmpdb.ingest import ingest_stream
from pmpdb.search import HistorySearch, InvalidQueryError, SearchLimits, decode_page_token, encode_page_token
from pmpdb.store.base import Store
from protos.pmp.v1 import pmp_pb2 as pb
from tests.asap_files import OTHER_PHARMACY, PHARMACY, as_bytes, asap_file, fill, patient

TODAY = date(2026, 11, 23)
JOHN_SLC = patient("SMITH", "JOHN", "19800203", zip_code="84101", address="12 ELM ST")
JOHN_OGDEN = patient("SMITH", "JOHN", "19800203", zip_code="84401", address="77 PINE AVE", city="OGDEN")
BILL = patient("Smith", "Bill", "19600101", zip_code="84101", address="5 OAK ST")
WILLIAM = patient("SMITH", "WILLIAM", "19600101", zip_code="84101", address="5 OAK ST")


async def _load(store: Store) -> HistorySearch:
    fills = [(JOHN_SLC, fill(f"RXS{d}", f"202610{d:02d}")) for d in range(1, 13)]
    fills += [(JOHN_OGDEN, fill("RXO1", "20261020")), (BILL, fill("RXB1", "20260601"))]
    other = [(WILLIAM, fill("RXW1", "20260701")), (WILLIAM, fill("RXW0", "20241231"))]
    stream, sha = as_bytes(asap_file([(PHARMACY, fills), (OTHER_PHARMACY, other)]))
    assert not (await ingest_stream(store, stream, name="f", sha256=sha)).rejected
    return HistorySearch(store, SearchLimits(default_page_size=5, max_page_size=10), state_code="UT", today=TODAY)


def _req(family: str, given: str, dob: str, zip_code: str = "", **kw: object) -> pb.SearchHistoryRequest:
    q = pb.PatientQuery(
        name=pb.HumanName(family=family, given=given), birth_date=dob, address=pb.Address(postal_code=zip_code)
    )
    return pb.SearchHistoryRequest(patient=q, **kw)  # type: ignore[arg-type]


async def test_same_name_and_dob_at_two_addresses_is_ambiguous(store: Store) -> None:
    search = await _load(store)
    reply = await search.search(_req("SMITH", "JOHN", "1980-02-03"))
    assert reply.match_status == pb.MATCH_STATUS_AMBIGUOUS
    assert len(reply.patients) == 2
    assert not reply.dispensations


async def test_zip_separates_the_two_people(store: Store) -> None:
    search = await _load(store)
    reply = await search.search(_req("SMITH", "JOHN", "1980-02-03", "84401"))
    assert reply.match_status == pb.MATCH_STATUS_FOUND
    assert [d.rx_number for d in reply.dispensations] == ["RXO1"]


async def test_nickname_variants_at_one_address_are_one_person(store: Store) -> None:
    search = await _load(store)
    reply = await search.search(_req("smith", "William", "1960-01-01"))
    assert reply.match_status == pb.MATCH_STATUS_FOUND
    assert len(reply.patients) == 1 and len(reply.patients[0].record_ids) == 2
    # default window: the last 365 days before "today"; the 2024 fill is outside it
    assert [d.rx_number for d in reply.dispensations] == ["RXW1", "RXB1"]
    everything = await search.search(_req("SMITH", "BILL", "1960-01-01", date_range=pb.DateRange(start="2020-01-01")))
    assert [d.rx_number for d in everything.dispensations] == ["RXW1", "RXB1", "RXW0"]


async def test_unknown_patient_is_not_found(store: Store) -> None:
    search = await _load(store)
    reply = await search.search(_req("NOBODY", "JANE", "1990-05-05"))
    assert reply.match_status == pb.MATCH_STATUS_NOT_FOUND
    assert not reply.patients and not reply.dispensations


async def test_pages_cover_every_fill_once_newest_first(store: Store) -> None:
    search = await _load(store)
    seen: list[str] = []
    token = ""
    for _ in range(5):
        reply = await search.search(_req("SMITH", "JOHN", "1980-02-03", "84101", page_token=token))
        assert reply.total_dispensations == 12
        seen += [d.date_filled for d in reply.dispensations]
        token = reply.next_page_token
        if not token:
            break
    assert seen == [f"2026-10-{d:02d}" for d in range(12, 0, -1)]


async def test_page_size_is_capped(store: Store) -> None:
    search = await _load(store)
    reply = await search.search(_req("SMITH", "JOHN", "1980-02-03", "84101", page_size=1000))
    assert len(reply.dispensations) == 10 and reply.next_page_token


@pytest.mark.parametrize(
    ("req", "message"),
    [
        (_req("", "JOHN", "1980-02-03"), "family"),
        (_req("SMITH", "JOHN", ""), "birth_date"),
        (_req("SMITH", "JOHN", "03/02/1980"), "birth_date"),
        (_req("SMITH", "JOHN", "2099-01-01"), "birth_date"),
        (_req("SMITH", "JOHN", "1980-02-03", date_range=pb.DateRange(start="2026-05-01", end="2026-01-01")), "after"),
        (_req("SMITH", "JOHN", "1980-02-03", date_range=pb.DateRange(start="1990-01-01", end="2026-01-01")), "longer"),
        (_req("SMITH", "JOHN", "1980-02-03", page_token="%%%"), "page_token"),
        (_req("SMITH", "JOHN", "1980-02-03", page_size=-1), "page_size"),
    ],
)
async def test_invalid_queries_say_which_field(store: Store, req: pb.SearchHistoryRequest, message: str) -> None:
    search = await _load(store)
    with pytest.raises(InvalidQueryError, match=message):
        await search.search(req)


def test_page_token_round_trip() -> None:
    assert decode_page_token(encode_page_token("2026-10-01", 12345)) == ("2026-10-01", 12345)
    with pytest.raises(InvalidQueryError):
        decode_page_token(encode_page_token("2026-10-01", 1)[:-3])


async def test_a_patient_id_from_an_earlier_answer_finds_the_same_person(store: Store) -> None:
    search = await _load(store)
    first = await search.search(_req("SMITH", "BILL", "1960-01-01"))
    assert first.match_status == pb.MATCH_STATUS_FOUND
    again = await search.search(pb.SearchHistoryRequest(patient=pb.PatientQuery(patient_id=first.patients[0].id)))
    assert again.match_status == pb.MATCH_STATUS_FOUND
    assert [d.id for d in again.dispensations] == [d.id for d in first.dispensations]
    unknown = await search.search(pb.SearchHistoryRequest(patient=pb.PatientQuery(patient_id="12345")))
    assert unknown.match_status == pb.MATCH_STATUS_NOT_FOUND
    with pytest.raises(InvalidQueryError, match="patient_id"):
        await search.search(pb.SearchHistoryRequest(patient=pb.PatientQuery(patient_id="x' OR 1=1")))
