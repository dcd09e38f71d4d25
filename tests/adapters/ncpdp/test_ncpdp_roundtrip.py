"""A random valid RxHistoryRequest → decode → a FOUND answer naming that patient → encode → the reply names the same
patient, answers the same MessageID, swaps To/From and validates against its version's schema."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ncpdp_test_data import MAX_DAYS, NOW, TODAY, Person, Request, build, decode, found, read_reply, text_at

from adapters.ncpdp import encode_rx_history_response
from protos.pmp.v1 import pmp_pb2 as pb

ROUND_TRIP = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_ASCII_NAME = st.from_regex(r"[A-Za-z](?:[A-Za-z' .-]{0,33}[A-Za-z])?", fullmatch=True)
# 2017071 keeps Unicode: letters of any script (no controls, no surrogates, nothing XML cannot carry)
_UNICODE_NAME = st.text(st.characters(categories=("Lu", "Ll", "Lo")), min_size=1, max_size=35)
_MESSAGE_ID = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,34}", fullmatch=True)
_PARTY = st.tuples(
    st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_-]{0,20}", fullmatch=True), st.sampled_from(["P", "D", "ZZZ", "C", "M"])
)


@st.composite
def requests(draw: st.DrawFn) -> Request:
    version = draw(st.sampled_from(["2017071", "10.6"]))
    name = _UNICODE_NAME if version == "2017071" else _ASCII_NAME
    patient = Person(
        last=draw(name),
        first=draw(name),
        middle=draw(st.just("") | name),
        birth=draw(st.dates(min_value=date(1900, 1, 1), max_value=TODAY)).isoformat(),
        gender=draw(st.sampled_from(["M", "F", "U", ""])),
    )
    start = end = None
    if version == "2017071" and draw(st.booleans()):
        last = draw(st.dates(min_value=TODAY - timedelta(days=2000), max_value=TODAY))
        first = draw(st.dates(min_value=last - timedelta(days=MAX_DAYS), max_value=last))
        start, end = first.isoformat(), last.isoformat()
    pharmacist = draw(st.none() | st.tuples(_ASCII_NAME, _ASCII_NAME))
    return Request(
        version=version,  # type: ignore[arg-type]
        message_id=draw(_MESSAGE_ID),
        to=draw(_PARTY),
        from_=draw(_PARTY),
        patient=patient,
        npi=draw(st.from_regex(r"[0-9]{10}", fullmatch=True)),
        dea=draw(st.just("") | st.from_regex(r"[A-Z]{2}[0-9]{7}", fullmatch=True)),
        prescriber=pharmacist is None or draw(st.booleans()),
        pharmacist=pharmacist,
        start=start,
        end=end,
        benefits=draw(st.booleans()),
    )


@ROUND_TRIP
@given(requests(), st.integers(min_value=0, max_value=40))
def test_round_trip(r: Request, count: int) -> None:
    query = decode(build(r))
    asked = query.request.patient
    assert (asked.name.family, asked.name.given, asked.birth_date) == (r.patient.last, r.patient.first, r.patient.birth)
    body = encode_rx_history_response(found(query, max(count, 1)), query=query, message_id="reply-1", now=NOW)
    root = read_reply(body, r.version)
    patient = "Body/RxHistoryResponse/Patient" + ("/HumanPatient" if r.version == "2017071" else "")
    assert text_at(root, f"{patient}/Name/LastName") == r.patient.last
    assert text_at(root, f"{patient}/Name/FirstName") == r.patient.first
    assert text_at(root, f"{patient}/DateOfBirth/Date") == r.patient.birth
    assert text_at(root, f"{patient}/Gender") == (r.patient.gender or None)
    assert text_at(root, "Header/RelatesToMessageID") == r.message_id
    assert text_at(root, "Header/To") == r.from_[0]
    assert text_at(root, "Header/From") == r.to[0]
    if r.start:
        assert text_at(root, "Body/RxHistoryResponse/RequestedDates/StartDate/Date") == r.start
    assert len(root.findall(".//{*}MedicationDispensed")) == max(count, 1)


@ROUND_TRIP
@given(requests(), st.sampled_from([pb.MATCH_STATUS_NOT_FOUND, pb.MATCH_STATUS_AMBIGUOUS]))
def test_denials_round_trip(r: Request, status: int) -> None:
    query = decode(build(r))
    body = encode_rx_history_response(
        pb.SearchHistoryResponse(match_status=status),  # type: ignore[arg-type]
        query=query,
        message_id="reply-1",
        now=NOW,
    )
    root = read_reply(body, r.version)
    assert text_at(root, "Header/RelatesToMessageID") == r.message_id
    assert text_at(root, "Body/RxHistoryResponse/Response/Denied/DenialReason")
