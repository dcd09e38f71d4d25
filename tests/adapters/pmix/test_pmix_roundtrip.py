"""Property tests: random valid requests survive ``encode_request`` → ``parse_request`` (patient, requester, period),
and random valid answers survive ``encode_report`` → ``decode_report`` (every field the report carries) — with odd
but valid names (apostrophes, hyphens, any script), text that needs escaping, and either exchange namespace. Every
document written is validated against the schema on the way.

The strategies are built once, at import: hypothesis validates a strategy on first use, and strategies made inside a
composite on every draw made generation the bulk of these tests' time."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from google.protobuf.json_format import MessageToDict
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pmix_test_data import MAX_DAYS, NOW, OTHER_NS, TODAY, parse

from adapters.pmix import DEFAULT_EXCHANGE_NS, PmixQuery, decode_report, encode_report, encode_request, validate
from adapters.pmix.codes import USPS_STATES
from protos.pmp.v1 import pmp_pb2 as pb

ROUND_TRIP = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Letters of many scripts, from a fixed alphabet (generating from Unicode categories is several times slower).
_LETTER = st.sampled_from("AaBbZzÀéöüßñçØæŁłŞğİıǅЖжΩωאבعرب李小龍あア한글ĀŌ𝔄𐐀")
_STATES = st.sampled_from(sorted(USPS_STATES))
_NAMESPACES = st.sampled_from([DEFAULT_EXCHANGE_NS, OTHER_NS])


def _optional(strategy: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.just("") | strategy


def _names(max_size: int) -> st.SearchStrategy[str]:
    """A letter, then letters, apostrophes, hyphens, dots and spaces, then a letter: O'Brien-Smith, Zoë, 李 小龍."""
    inner = st.text(_LETTER | st.sampled_from("'-. "), max_size=max_size - 2)
    return _LETTER | st.builds(lambda a, b, c: a + b + c, _LETTER, inner, _LETTER)


def _words(max_size: int) -> st.SearchStrategy[str]:
    """Text that must be escaped now and then (& < > " '), without leading or trailing spaces."""
    edge = _LETTER | st.sampled_from("0123456789&<>\"'#")
    inner = st.text(edge | st.sampled_from(" -.,/"), max_size=max_size - 2)
    return st.builds(lambda a, b, c: a + b + c, edge, inner, edge)


def _digits(count: int, template: str = "{}") -> st.SearchStrategy[str]:
    return st.integers(min_value=0, max_value=10**count - 1).map(lambda n: template.format(f"{n:0{count}d}"))


_NAME = _names(16)
_OPTIONAL_NAME = _optional(_NAME)
_DAY = st.dates(min_value=date(1990, 1, 1), max_value=TODAY).map(date.isoformat)
_OPTIONAL_DAY = _optional(_DAY)
_OPTIONAL_STATE = _optional(_STATES)
_NPI = _optional(_digits(10))
_ID = st.text("ABCXYZ0123456789-", min_size=1, max_size=12).map(lambda text: text.strip("-") or "0")
_OPTIONAL_ID = _optional(_ID)
_POSTAL = _optional(_digits(5) | _digits(9) | _digits(9).map(lambda d: f"{d[:5]}-{d[5:]}"))
_PHONE = _optional(_digits(10).map(lambda d: f"({d[:3]}) {d[3:6]}-{d[6:]}"))
_GENDER = st.sampled_from([pb.GENDER_UNSPECIFIED, pb.GENDER_FEMALE, pb.GENDER_MALE, pb.GENDER_UNKNOWN])

_ADDRESS = st.builds(
    pb.Address,
    line1=_optional(_words(24)),
    line2=_optional(_words(12)),
    city=_optional(_names(12)),
    state=_OPTIONAL_STATE,
    postal_code=_POSTAL,
    country=st.sampled_from(["", "US"]),
)
_FULL_NAME = st.builds(
    pb.HumanName,
    family=_NAME,
    given=_OPTIONAL_NAME,
    middle=_OPTIONAL_NAME,
    prefix=st.sampled_from(["", "Dr", "Ms"]),
    suffix=st.sampled_from(["", "Jr", "III"]),
)
_ANY_NAME = st.just(pb.HumanName()) | _FULL_NAME  # a name without a surname is not carried: none at all
_LICENCE = st.just(("", "")) | st.tuples(_ID, _OPTIONAL_STATE)
_PRACTITIONER = st.builds(
    lambda name, npi, dea, licence: pb.Practitioner(
        name=name, npi=npi, dea=dea, state_license=licence[0], license_state=licence[1]
    ),
    _ANY_NAME,
    _NPI,
    _optional(_digits(7, "AB{}")),
    _LICENCE,
)


# --- requests --------------------------------------------------------------------------------------------------

_ROLES = {
    pb.ROLE_PRESCRIBER: ["", "208D00000X", "207Q00000X"],
    pb.ROLE_PHARMACIST: ["", "183500000X"],
    pb.ROLE_LICENSED_DELEGATE: ["", "163W00000X", "207Q00000X"],
    pb.ROLE_UNLICENSED_DELEGATE: ["", "183700000X"],
    pb.ROLE_LAW_ENFORCEMENT: [""],
    pb.ROLE_REGULATOR: [""],
}
_ROLE_AND_TAXONOMY = st.sampled_from([(role, code) for role, codes in _ROLES.items() for code in codes])
_IDENTIFIERS = st.builds(
    lambda ssn, licence, other: [ident for ident in (ssn, licence, other) if ident is not None],
    st.none() | _digits(9).map(lambda d: pb.Identifier(type="SSN", value=f"{d[:3]}-{d[3:5]}-{d[5:]}")),
    st.none() | st.builds(lambda v, s: pb.Identifier(type="DL", value=v, issuer=s), _ID, _OPTIONAL_STATE),
    st.none()
    | st.builds(lambda t, v: pb.Identifier(type=t, value=v), st.sampled_from(["MR", "OTHER", "PASSPORT"]), _ID),
)
_ORGANIZATION = st.sampled_from(["", "NCPDP:1234567", "NPI:1003000126", "DEA:BM1234563"]) | _words(24).filter(
    lambda words: ":" not in words
)


@st.composite
def _periods(draw: st.DrawFn) -> pb.DateRange:
    if draw(st.booleans()):
        return pb.DateRange()
    end = draw(st.dates(min_value=TODAY - timedelta(days=3000), max_value=TODAY))
    start = draw(st.dates(min_value=end - timedelta(days=MAX_DAYS), max_value=end))
    return pb.DateRange(start=start.isoformat(), end=end.isoformat())


@st.composite
def _searches(draw: st.DrawFn) -> tuple[pb.SearchHistoryRequest, str]:
    patient = pb.PatientQuery(
        name=draw(_FULL_NAME),
        birth_date=draw(st.dates(min_value=date(1900, 1, 1), max_value=TODAY)).isoformat(),
        gender=draw(_GENDER),
        address=draw(_ADDRESS),
        phone=draw(_PHONE),
        identifiers=draw(_IDENTIFIERS),
    )
    role, taxonomy = draw(_ROLE_AND_TAXONOMY)
    practitioner = draw(_PRACTITIONER)
    if not (practitioner.name.family or practitioner.npi or practitioner.dea or practitioner.state_license):
        practitioner.npi = "1928340565"  # a requester must be named or identified
    requester = pb.Requester(role=role, practitioner=practitioner, organization=draw(_ORGANIZATION))
    request = pb.SearchHistoryRequest(patient=patient, requester=requester, date_range=draw(_periods()))
    return request, taxonomy


SEARCHES = _searches()


@ROUND_TRIP
@given(SEARCHES, _STATES, _STATES, _NAMESPACES, _ID)
def test_requests_round_trip(
    search: tuple[pb.SearchHistoryRequest, str], ours: str, theirs: str, namespace: str, request_id: str
) -> None:
    request, taxonomy = search
    body = encode_request(
        request,
        request_id=request_id,
        requesting_state=ours,
        disclosing_state=theirs,
        requester_taxonomy=taxonomy,
        exchange_ns=namespace,
    )
    assert validate(body, exchange_ns=namespace) == []
    query = parse(body, exchange_ns=namespace)
    assert shape(query.request.patient) == shape(request.patient)
    expected = pb.Requester()
    expected.CopyFrom(request.requester)
    expected.state = ours
    assert shape(query.request.requester) == shape(expected)
    if request.date_range.start:
        assert query.request.date_range == request.date_range
    assert (query.request_id, query.requesting_state, query.disclosing_state) == (request_id, ours, theirs)
    assert query.requester_taxonomy == taxonomy


# --- answers ---------------------------------------------------------------------------------------------------

_PHARMACY = st.none() | st.builds(
    pb.Pharmacy,
    npi=_NPI,
    ncpdp=_optional(_digits(7)),
    dea=_OPTIONAL_ID,
    name=_optional(_words(30)),
    address=_ADDRESS,
    phone=_PHONE,
)
_DRUG = st.none() | st.tuples(_words(40), _optional(_words(12)))
_QUANTITY = st.just(0.0) | st.integers(min_value=1, max_value=10**7).map(lambda n: n / 1000)


@st.composite
def _dispensations(draw: st.DrawFn) -> pb.Dispensation:
    d = pb.Dispensation(
        id=draw(_ID),
        patient_id=draw(_ID),
        source_state=draw(_OPTIONAL_STATE),
        patient_name=draw(_ANY_NAME),
        patient_birth_date=draw(_OPTIONAL_DAY),
        patient_gender=draw(_GENDER),
        patient_address=draw(_ADDRESS),
        rx_number=draw(_OPTIONAL_ID),
        date_written=draw(_OPTIONAL_DAY),
        date_filled=draw(_DAY),
        date_sold=draw(_OPTIONAL_DAY),
        refill_number=draw(st.integers(min_value=0, max_value=99)),
        refills_authorized=draw(st.integers(min_value=0, max_value=99)),
        quantity=draw(_QUANTITY),
        quantity_unit=draw(st.sampled_from(["", "01", "02", "03"])),
        days_supply=draw(st.integers(min_value=0, max_value=400)),
        payment_type=draw(st.sampled_from(["", "01", "02", "04", "07", "99"])),
        partial_fill=draw(st.sampled_from(["", "00", "01"])),
        transmission_form=draw(st.sampled_from(["", "01", "05", "99"])),
        status="reported",
        pharmacist_npi=draw(_NPI),
        rxnorm_code=draw(_OPTIONAL_ID),
        mme_per_day=draw(st.sampled_from([0.0, 22.5, 90.0])),
    )
    ndc = draw(_optional(_digits(11)))
    if ndc:
        d.ndc, d.product_id_qualifier = ndc, "01"
    drug = draw(_DRUG)
    if drug is not None:
        d.drug.CopyFrom(pb.Drug(ndc=ndc, name=drug[0], strength=drug[1], dea_schedule="2"))
    pharmacy = draw(_PHARMACY)
    if pharmacy is not None:
        d.pharmacy.CopyFrom(pharmacy)
    if draw(st.booleans()):
        d.prescriber.CopyFrom(draw(_PRACTITIONER))
    return d


_ALERT = st.builds(
    lambda code, text, value, threshold, start, end: pb.Alert(
        code=code, text=text, value=value / 100, threshold=threshold / 10, period=pb.DateRange(start=start, end=end)
    ),
    st.sampled_from(["03", "04", "05"]),
    _optional(_words(40)),
    st.integers(min_value=0, max_value=10**6),
    st.integers(min_value=0, max_value=10**4),
    _OPTIONAL_DAY,
    _OPTIONAL_DAY,
)
_SOURCE_OUTCOME = st.builds(
    lambda status, detail, count: (status, detail, count),
    st.sampled_from(["complete", "no-data", "disallowed", "deferred", "error"]),
    _optional(_words(30)),
    st.integers(min_value=0, max_value=10**6),
)


@st.composite
def _answers(draw: st.DrawFn) -> pb.SearchHistoryResponse:
    found = draw(st.lists(_dispensations(), min_size=1, max_size=5))
    sources = [
        pb.SourceOutcome(state=state, status=status, detail=detail, dispensations=count)
        for state, (status, detail, count) in zip(
            draw(st.lists(_STATES, max_size=4, unique=True)),
            draw(st.lists(_SOURCE_OUTCOME, min_size=4, max_size=4)),
            strict=False,
        )
    ]
    matched = pb.MatchedPatient(
        id="7", record_ids=["7"], name=draw(_FULL_NAME), birth_date=draw(_DAY), gender=draw(_GENDER), score=0.9
    )
    matched.address.CopyFrom(draw(_ADDRESS))
    return pb.SearchHistoryResponse(
        match_status=pb.MATCH_STATUS_FOUND,
        patients=[matched],
        dispensations=found,
        total_dispensations=len(found) + draw(st.integers(min_value=0, max_value=5)),
        alerts=draw(st.lists(_ALERT, max_size=3)),
        sources=sources,
    )


ANSWERS = _answers()


def shape(message: Any) -> Any:
    """A message as a dict without empty values or empty sub-messages (present-but-empty is not carried)."""

    def prune(value: Any) -> Any:
        if isinstance(value, dict):
            kept = {key: prune(item) for key, item in value.items()}
            return {key: item for key, item in kept.items() if item not in ({}, [], "", None)}
        if isinstance(value, list):
            return [prune(item) for item in value]
        return value

    return prune(MessageToDict(message, preserving_proto_field_name=True))


def carried(d: pb.Dispensation, disclosing_state: str) -> Any:
    """What a report carries of ``d``, as ``decode_report`` gives it back."""
    out = pb.Dispensation()
    out.CopyFrom(d)
    for name in ("id", "patient_id", "status", "pharmacist_npi", "rxnorm_code", "mme_per_day", "lme_per_day"):
        out.ClearField(name)
    out.source_state = d.source_state or disclosing_state
    out.ClearField("drug")
    if d.drug.name or d.drug.strength:
        out.drug.CopyFrom(pb.Drug(ndc=d.ndc, name=d.drug.name, strength=d.drug.strength))
    return shape(out)


def _query(request_id: str, requesting_state: str, period: pb.DateRange) -> PmixQuery:
    return PmixQuery(
        request=pb.SearchHistoryRequest(date_range=period),
        request_id=request_id,
        requesting_state=requesting_state,
        disclosing_state="",
        requester_taxonomy="",
        requester_role_text="Prescriber",
    )


@ROUND_TRIP
@given(ANSWERS, _STATES, _STATES, _NAMESPACES)
def test_answers_round_trip(answer: pb.SearchHistoryResponse, ours: str, theirs: str, namespace: str) -> None:
    query = _query("Q-1", theirs, pb.DateRange(start="2023-05-01", end="2024-05-01"))
    body = encode_report(answer, query=query, disclosing_state=ours, now=NOW, exchange_ns=namespace)
    assert validate(body, exchange_ns=namespace) == []
    report = decode_report(body, exchange_ns=namespace, disclosing_state=ours)
    assert [shape(d) for d in report.dispensations] == [carried(d, ours) for d in answer.dispensations]
    matched = answer.patients[0]
    assert report.patient is not None
    assert shape(report.patient) == shape(
        pb.MatchedPatient(
            name=matched.name, birth_date=matched.birth_date, gender=matched.gender, address=matched.address
        )
    )
    assert [shape(a) for a in report.alerts] == [shape(a) for a in answer.alerts]
    assert [shape(s) for s in report.sources] == [shape(s) for s in answer.sources]
    gaps = any(source.status not in ("complete", "no-data") for source in answer.sources)
    assert (report.request_id, report.status) == ("Q-1", "error" if gaps else "complete")
