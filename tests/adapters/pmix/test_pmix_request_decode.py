"""``parse_request``: each element of a ``pmix:PMPRequest`` to its place in the search, the period's rules, the
requester's role, and the refusals of requests that are well-formed but wrong."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pmix_test_data import (
    MAX_DAYS,
    NOW,
    OTHER_NS,
    TODAY,
    encoded,
    parse,
    sample,
    search_request,
)

from adapters.pmix import DEFAULT_EXCHANGE_NS, encode_report, read_request_id
from protos.errors import PmpError
from protos.pmp.v1 import pmp_pb2 as pb


def refused(body: bytes, code: int = pb.ERROR_CODE_INVALID_REQUEST, **kwargs: object) -> PmpError:
    with pytest.raises(PmpError) as caught:
        parse(body, **kwargs)  # type: ignore[arg-type]
    error = caught.value
    assert error.code == code, error
    assert error.location and all(where.startswith("/") for where in error.location)
    return error


def test_the_sample_decodes_whatever_its_prefixes_and_order() -> None:
    query = parse(sample())
    assert (query.request_id, query.requesting_state, query.disclosing_state) == ("MA-2024-000123", "MA", "NV")
    assert (query.requester_taxonomy, query.requester_role_text) == ("207Q00000X", "Physician")
    patient = query.request.patient
    assert (patient.name.family, patient.name.given, patient.name.middle) == ("SAMUELS", "AUGUST", "J")
    assert (patient.birth_date, patient.gender) == ("1989-03-12", pb.GENDER_MALE)
    assert patient.address == pb.Address(line1="12 ELM ST", city="AMHERST", state="MA", postal_code="01059")
    assert patient.phone == "(413) 555-0100"
    assert list(patient.identifiers) == [pb.Identifier(type="DL", value="S12345678", issuer="MA")]
    requester = query.request.requester
    assert requester.role == pb.ROLE_PRESCRIBER
    assert (requester.practitioner.npi, requester.practitioner.dea) == ("1928340565", "AA1234563")
    assert (requester.practitioner.name.family, requester.practitioner.name.given) == ("AMSTER", "ADAM")
    assert (requester.organization, requester.state) == ("VALLEY FAMILY MEDICINE", "MA")
    assert query.request.date_range == pb.DateRange(start="2023-05-01", end="2024-04-30")
    assert list(query.request.states) == ["NONE"]  # a hub's request is never fanned out again
    assert query.request.page_size == 0


def test_every_element_the_encoder_writes_is_read() -> None:
    query = parse(encoded())
    asked = search_request()
    assert query.request.patient == asked.patient
    expected = pb.Requester()
    expected.CopyFrom(asked.requester)
    expected.state = "NV"
    assert query.request.requester == expected
    assert query.request.date_range == asked.date_range
    assert (query.request_id, query.requesting_state, query.disclosing_state) == ("NV-REQ-1", "NV", "AZ")
    assert (query.requester_taxonomy, query.requester_role_text) == ("208D00000X", "Prescriber")


@pytest.mark.parametrize(
    ("organization", "expected"),
    [("NPI:1003000126", "NPI:1003000126"), ("DEA:BM1234563", "DEA:BM1234563"), ("Clinic: Main", "Clinic: Main")],
)
def test_the_requesting_organization_is_a_name_or_an_identifier(organization: str, expected: str) -> None:
    request = search_request()
    request.requester.organization = organization
    assert parse(encoded(request)).request.requester.organization == expected


def test_optional_parts_may_be_left_out() -> None:
    request = pb.SearchHistoryRequest(
        patient=pb.PatientQuery(name=pb.HumanName(family="Ng"), birth_date="2001-01-01"),
        requester=pb.Requester(role=pb.ROLE_PHARMACIST, practitioner=pb.Practitioner(npi="1003000126")),
    )
    query = parse(encoded(request, taxonomy=""))
    assert query.request.patient == request.patient
    assert query.request.requester.organization == ""
    assert (query.requester_taxonomy, query.requester_role_text) == ("", "Pharmacist")
    assert query.request.requester.role == pb.ROLE_PHARMACIST
    assert query.request.date_range == pb.DateRange(
        start=(TODAY - timedelta(days=365)).isoformat(), end=TODAY.isoformat()
    )


def test_a_request_without_the_disclosing_state() -> None:
    body = encoded().replace(
        b"<pmix:DisclosingState><nc:LocationStateUSPostalServiceCode>AZ</nc:LocationStateUSPostalServiceCode>"
        b"</pmix:DisclosingState>",
        b"",
    )
    assert parse(body).disclosing_state == ""


def test_a_role_given_as_a_taxonomy_code() -> None:
    body = encoded(taxonomy="").replace(b">Prescriber<", b">183500000X<")
    query = parse(body)
    assert (query.requester_taxonomy, query.requester_role_text) == ("183500000X", "183500000X")
    assert query.request.requester.role == pb.ROLE_PHARMACIST


def test_a_configured_exchange_namespace() -> None:
    body = encoded(exchange_ns=OTHER_NS)
    assert parse(body, exchange_ns=OTHER_NS).request_id == "NV-REQ-1"
    error = refused(body)  # the default namespace is not the one the sender used
    assert error.detail == f"The root element is not in the PMIX exchange namespace {DEFAULT_EXCHANGE_NS}"


# --- the period ------------------------------------------------------------------------------------------------


def _with_period(start: str | None, end: str | None) -> bytes:
    request = search_request(date_range=pb.DateRange(start=start or "", end=end or ""))
    return encoded(request)


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        ("2024-01-01", "2024-02-01", ("2024-01-01", "2024-02-01")),
        ("2024-01-01", None, ("2024-01-01", "2024-05-01")),
        (None, "2024-02-01", ("2023-02-01", "2024-02-01")),
        ("2024-05-02", "2024-05-02", ("2024-05-01", "2024-05-01")),  # one day of grace, read as today
    ],
)
def test_the_period_and_its_defaults(start: str | None, end: str | None, expected: tuple[str, str]) -> None:
    period = parse(_with_period(start, end)).request.date_range
    assert (period.start, period.end) == expected


@pytest.mark.parametrize(
    ("start", "end", "detail"),
    [
        ("2024-03-01", "2024-02-01", "pmp:RequestPrescriptionDateRange starts after it ends"),
        ("2020-01-01", "2024-02-01", f"pmp:RequestPrescriptionDateRange spans more than the {MAX_DAYS} days allowed"),
        (
            "2024-05-03",
            None,
            "pmp:RequestPrescriptionDateRange/pmp:RequestPrescriptionDateRangeBegin is in the future",
        ),
        (None, "2024-06-01", "pmp:RequestPrescriptionDateRange/pmp:RequestPrescriptionDateRangeEnd is in the future"),
    ],
)
def test_periods_that_are_refused(start: str | None, end: str | None, detail: str) -> None:
    assert refused(_with_period(start, end)).detail.startswith(detail)


# --- refusals --------------------------------------------------------------------------------------------------


def test_a_birth_date_in_the_future_is_refused() -> None:
    request = search_request()
    request.patient.birth_date = "2024-05-02"
    error = refused(encoded(request))
    assert error.detail == "pmp:RequestPatient/nc:PersonBirthDate is in the future"
    assert error.location == ("/pmix:PMPRequest/pmp:RequestPatient/nc:PersonBirthDate",)


@pytest.mark.parametrize(
    ("old", "new", "detail", "location"),
    [
        (
            b"<nc:PersonSurName>O'Brien-M\xc3\xbcller</nc:PersonSurName>",
            b"",
            "pmp:RequestPatient/nc:PersonName misses a required element (expected: nc:PersonSurName)",
            "/pmix:PMPRequest/pmp:RequestPatient/nc:PersonName",
        ),
        (
            b"<nc:Date>1980-02-29</nc:Date>",
            b"<nc:Date>1981-02-29</nc:Date>",
            "pmp:RequestPatient/nc:PersonBirthDate/nc:Date is not a date (YYYY-MM-DD)",
            "/pmix:PMPRequest/pmp:RequestPatient/nc:PersonBirthDate/nc:Date",
        ),
        (
            b"<nc:Date>1980-02-29</nc:Date>",
            b"<nc:Date>1980-02</nc:Date>",
            "pmp:RequestPatient/nc:PersonBirthDate/nc:Date is not a date (YYYY-MM-DD)",
            "/pmix:PMPRequest/pmp:RequestPatient/nc:PersonBirthDate/nc:Date",
        ),
        (
            b"<pmix:RequesterRole>Prescriber</pmix:RequesterRole>",
            b"",
            "pmix:PMPRequest misses a required element (expected: pmix:RequesterRole)",
            "/pmix:PMPRequest",
        ),
        (
            b"<j:PersonSexCode>F</j:PersonSexCode>",
            b"<j:PersonSexCode>X</j:PersonSexCode>",
            "pmp:RequestPatient/j:PersonSexCode is not a code the schema allows",
            "/pmix:PMPRequest/pmp:RequestPatient/j:PersonSexCode",
        ),
        (
            b"<pmix:RequestID>NV-REQ-1</pmix:RequestID>",
            b"<pmix:RequestID>NV-REQ-1</pmix:RequestID><pmix:RequestID>2</pmix:RequestID>",
            "pmix:RequestID[2] is not expected here",
            "/pmix:PMPRequest/pmix:RequestID[2]",
        ),
        (
            b"<nc:PersonGivenName>Zo\xc3\xab</nc:PersonGivenName>",
            b"<nc:PersonGivenName>   </nc:PersonGivenName>",
            "pmp:RequestPatient/nc:PersonName/nc:PersonGivenName is blank or has a value the schema does not allow",
            "/pmix:PMPRequest/pmp:RequestPatient/nc:PersonName/nc:PersonGivenName",
        ),
        (
            b"<nc:PersonGivenName>Zo\xc3\xab</nc:PersonGivenName>",
            b"<nc:PersonGivenName>" + b"Z" * 101 + b"</nc:PersonGivenName>",
            "pmp:RequestPatient/nc:PersonName/nc:PersonGivenName is too long",
            "/pmix:PMPRequest/pmp:RequestPatient/nc:PersonName/nc:PersonGivenName",
        ),
        (
            b"<nc:PersonGivenName>Zo\xc3\xab</nc:PersonGivenName>",
            b"<nc:PersonGivenName><nc:PersonSurName>Z</nc:PersonSurName></nc:PersonGivenName>",
            "pmp:RequestPatient/nc:PersonName/nc:PersonGivenName must hold text, not elements",
            "/pmix:PMPRequest/pmp:RequestPatient/nc:PersonName/nc:PersonGivenName",
        ),
        (
            b"<pmix:Requester>",
            b'<pmix:Requester><x:Extra xmlns:x="urn:other">1</x:Extra>',
            "pmix:Requester/Extra is not expected here",
            "/pmix:PMPRequest/pmix:Requester/Extra",
        ),
        (
            b"<pmix:RequestID>",
            b'<pmix:RequestID kind="x">',
            "pmix:RequestID has an attribute the schema does not allow",
            "/pmix:PMPRequest/pmix:RequestID",
        ),
        (
            b"208D00000X",
            b"208D0000",
            "pmix:RequesterRoleTaxonomyCode is blank or has a value the schema does not allow",
            "/pmix:PMPRequest/pmix:RequesterRoleTaxonomyCode",
        ),
    ],
)
def test_schema_complaints_say_where_and_what_in_the_codecs_words(
    old: bytes, new: bytes, detail: str, location: str
) -> None:
    body = encoded()
    assert old in body
    error = refused(body.replace(old, new, 1))
    assert error.detail.startswith(detail), error.detail
    assert error.location == (location,)
    for secret in ("Brien", "1981-02-29", "1980-02"):
        assert secret not in error.detail


def test_a_state_that_is_not_a_usps_code_is_refused() -> None:
    body = encoded().replace(
        b"<pmix:RequestingState><nc:LocationStateUSPostalServiceCode>NV<",
        b"<pmix:RequestingState><nc:LocationStateUSPostalServiceCode>ZZ<",
    )
    error = refused(body)
    assert error.detail == "pmix:RequestingState/nc:LocationStateUSPostalServiceCode is not a USPS state code"


def test_a_requester_who_is_neither_named_nor_identified_is_refused() -> None:
    request = search_request(requester=pb.Requester(role=pb.ROLE_PRESCRIBER))
    error = refused(encoded(request))
    assert error.detail.startswith("pmix:Requester names nobody")
    assert error.location == ("/pmix:PMPRequest/pmix:Requester",)


def test_a_report_sent_as_a_request_is_unsupported() -> None:
    report = encode_report(pb.SearchHistoryResponse(), query=parse(encoded()), disclosing_state="AZ", now=NOW)
    error = refused(report, pb.ERROR_CODE_UNSUPPORTED)
    assert "send pmix:PMPRequest" in error.detail


def test_another_root_in_the_exchange_namespace_is_refused() -> None:
    body = encoded().replace(b"pmix:PMPRequest", b"pmix:PMPQuestion")
    assert refused(body).detail == "The root element must be pmix:PMPRequest"


def test_the_request_id_can_be_salvaged_from_a_request_that_is_refused() -> None:
    broken = encoded().replace(b"<nc:Date>1980-02-29</nc:Date>", b"<nc:Date>someday</nc:Date>")
    refused(broken)
    assert read_request_id(broken) == "NV-REQ-1"
    assert read_request_id(broken, exchange_ns=OTHER_NS) == ""
    assert read_request_id(b"<not xml") == ""
    assert read_request_id(encoded(request_id="A\u2028B")) == ""  # not plain text: not echoed
