"""RxHistoryRequest → SearchHistoryRequest, both versions: the samples, the end user, the period, refusals."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from ncpdp_test_data import (
    DEFAULT_DAYS,
    MAX_DAYS,
    SAMPLE_10_6_PHARMACIST,
    SAMPLE_10_6_PRESCRIBER,
    SAMPLE_2017071_PHARMACIST,
    SAMPLE_2017071_PRESCRIBER,
    TODAY,
    Person,
    Request,
    build,
    decode,
    sample,
)

from adapters.ncpdp import MessageHeader, message_version, parse_message, read_header
from protos.errors import PmpError
from protos.pmp.v1 import pmp_pb2 as pb

VERSIONS = ["2017071", "10.6"]


def refused(body: bytes, code: int = pb.ERROR_CODE_INVALID_REQUEST) -> PmpError:
    with pytest.raises(PmpError) as caught:
        decode(body)
    error = caught.value
    assert error.code == code, error
    assert error.location and all(isinstance(where, str) and where.startswith("/") for where in error.location)
    return error


# --- the samples -----------------------------------------------------------------------------------------------


def test_2017071_prescriber_sample() -> None:
    query = decode(sample(SAMPLE_2017071_PRESCRIBER))
    assert query.version == "2017071"
    assert query.header == MessageHeader(
        to=("STATEPMP", "ZZZ"),
        from_=("EHR-CLINIC-01", "D"),
        message_id="2017071-presc-0001",
        sent_time="2024-05-01T12:00:00.123Z",
        version="2017071",
    )
    request = query.request
    assert request.patient == pb.PatientQuery(
        name=pb.HumanName(family="SAMUELS", given="AUGUST", middle="J"),
        birth_date="1989-03-12",
        gender=pb.GENDER_MALE,
        address=pb.Address(line1="12 MAIN ST", city="AMHERST", state="MA", postal_code="01059"),
        phone="4135550100",
    )
    assert request.requester == pb.Requester(
        role=pb.ROLE_PRESCRIBER,
        practitioner=pb.Practitioner(
            name=pb.HumanName(family="AMSTER", given="ADAM"),
            npi="1928340565",
            dea="AA1234563",
            state_license="MD-12345",
        ),
    )
    assert request.requester.purpose == pb.PURPOSE_UNSPECIFIED  # the pipeline gives the role's default
    assert request.date_range == pb.DateRange(start="2023-11-01", end="2024-04-30")


def test_2017071_pharmacist_sample() -> None:
    request = decode(sample(SAMPLE_2017071_PHARMACIST)).request
    assert request.requester == pb.Requester(
        role=pb.ROLE_PHARMACIST,
        practitioner=pb.Practitioner(
            name=pb.HumanName(family="CHEN", given="LI"), npi="1518000011", state_license="RPH-7788"
        ),
        organization="NCPDP:1234567",
    )
    assert request.patient.address == pb.Address(state="MA", postal_code="021390001")
    assert request.date_range == pb.DateRange(
        start=(TODAY - timedelta(days=DEFAULT_DAYS)).isoformat(), end=TODAY.isoformat()
    )


def test_10_6_prescriber_sample() -> None:
    query = decode(sample(SAMPLE_10_6_PRESCRIBER))
    assert query.version == "10.6"
    assert query.header.message_id == "106-presc-0001"
    request = query.request
    assert request.patient.name == pb.HumanName(family="SAMUELS", given="AUGUST")
    assert request.patient.address == pb.Address(line1="12 MAIN ST", city="AMHERST", state="MA", postal_code="01059")
    assert request.patient.phone == "4135550100"
    assert request.requester == pb.Requester(
        role=pb.ROLE_PRESCRIBER,
        practitioner=pb.Practitioner(
            name=pb.HumanName(family="AMSTER", given="ADAM"), npi="1928340565", dea="AA1234563"
        ),
        organization="VALLEY FAMILY MEDICINE",
    )
    # 10.6 has no RequestedDates: always the default period
    assert request.date_range == pb.DateRange(
        start=(TODAY - timedelta(days=DEFAULT_DAYS)).isoformat(), end=TODAY.isoformat()
    )


def test_10_6_pharmacist_sample_without_benefits_coordination() -> None:
    request = decode(sample(SAMPLE_10_6_PHARMACIST)).request
    assert request.requester == pb.Requester(
        role=pb.ROLE_PHARMACIST,
        practitioner=pb.Practitioner(name=pb.HumanName(family="CHEN", given="LI")),
        organization="NCPDP:1234567",
    )
    assert request.patient.gender == pb.GENDER_FEMALE


# --- versions and transactions ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attributes", "version"),
    [
        ('TransactionVersion="20170715"', "2017071"),
        ('StructuresVersion="20170715"', "2017071"),
        ('version="2017071"', "2017071"),
        ('version="20170715" release="001"', "2017071"),
        ('version="010" release="006"', "10.6"),
    ],
)
def test_version_detection(attributes: str, version: str) -> None:
    body = build(Request(version=version, root_attributes=attributes))  # type: ignore[arg-type]
    assert message_version(parse_message(body)) == version
    assert decode(body).version == version


@pytest.mark.parametrize(
    "attributes",
    ['version="010" release="005"', 'version="010"', 'TransactionVersion="20190404"', "", 'version="2017071x"'],
)
def test_unknown_version_is_unsupported(attributes: str) -> None:
    error = refused(build(Request(root_attributes=attributes)), pb.ERROR_CODE_UNSUPPORTED)
    assert error.location == ("/Message",)
    assert "2019" not in error.detail and "005" not in error.detail


def test_another_transaction_is_unsupported() -> None:
    body = sample(SAMPLE_10_6_PRESCRIBER).replace(b"RxHistoryRequest>", b"NewRx>")
    error = refused(body, pb.ERROR_CODE_UNSUPPORTED)
    assert error.detail == "NewRx is not supported here; send RxHistoryRequest"
    assert error.location == ("/Message/Body/NewRx",)


def test_an_unknown_body_element_is_invalid() -> None:
    body = sample(SAMPLE_10_6_PRESCRIBER).replace(b"RxHistoryRequest>", b"PleaseSendEverything>")
    error = refused(body)
    assert "PleaseSendEverything" in error.location[0]
    assert "RxHistoryRequest" in error.detail


def test_an_empty_body_and_two_transactions_are_invalid() -> None:
    body = sample(SAMPLE_2017071_PRESCRIBER)
    start, end = body.index(b"<Body>") + 6, body.index(b"</Body>")
    assert "is empty" in refused(body[:start] + body[end:]).detail
    doubled = body[:start] + body[start:end] * 2 + body[end:]
    error = refused(doubled)
    assert error.detail == "RxHistoryRequest[2] is a second transaction: a Body holds one"


def test_header_parts_are_required() -> None:
    body = sample(SAMPLE_2017071_PRESCRIBER).replace(b"<MessageID>2017071-presc-0001</MessageID>", b"")
    error = refused(body)
    assert error.location == ("/Message/Header/MessageID",)
    assert error.detail == "Header/MessageID is required"
    long_id = build(Request(message_id="M" * 36))
    assert refused(long_id).detail == "Header/MessageID exceeds 35 characters"


# --- the patient -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
def test_missing_last_name_is_refused_with_its_location(version: str) -> None:
    error = refused(build(Request(version=version, patient=Person(last=""))))  # type: ignore[arg-type]
    prefix = "/Message/Body/RxHistoryRequest/Patient" + ("/HumanPatient" if version == "2017071" else "")
    assert error.location == (prefix + "/Name/LastName",)
    assert error.detail.endswith("Name/LastName is required")


@pytest.mark.parametrize("version", VERSIONS)
def test_missing_first_name_is_refused(version: str) -> None:
    error = refused(build(Request(version=version, patient=Person(first=""))))  # type: ignore[arg-type]
    assert error.detail.endswith("Name/FirstName is required")


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(
    ("birth", "problem"),
    [
        ("1989-03", "is not a full date (YYYY-MM-DD)"),
        ("1989", "is not a full date (YYYY-MM-DD)"),
        ("1989-02-30", "is not a valid calendar date"),
        ("03/12/1989", "is not a date (YYYY-MM-DD)"),
        ("2024-05-02", "is in the future"),
    ],
)
def test_bad_birth_dates_are_refused_without_echo(version: str, birth: str, problem: str) -> None:
    error = refused(build(Request(version=version, patient=Person(birth=birth))))  # type: ignore[arg-type]
    assert error.detail.endswith(problem)
    assert birth not in error.detail
    assert "DateOfBirth" in error.location[0]


@pytest.mark.parametrize("version", VERSIONS)
def test_missing_birth_date_is_refused(version: str) -> None:
    body = build(Request(version=version))  # type: ignore[arg-type]
    body = body.replace(b"<DateOfBirth><Date>1989-03-12</Date></DateOfBirth>", b"")
    error = refused(body)
    assert error.detail.endswith("DateOfBirth is required")
    assert error.location[0].endswith("/DateOfBirth")


def test_a_birth_date_time_is_read_as_its_day() -> None:
    body = build(Request()).replace(b"<Date>1989-03-12</Date>", b"<DateTime>1989-03-12T23:30:00-05:00</DateTime>")
    assert decode(body).request.patient.birth_date == "1989-03-12"


@pytest.mark.parametrize("version", VERSIONS)
def test_text_longer_than_the_schema_allows_is_refused_without_echo(version: str) -> None:
    name = "X" * 36
    error = refused(build(Request(version=version, patient=Person(last=name))))  # type: ignore[arg-type]
    assert error.detail.endswith("Name/LastName exceeds 35 characters")
    assert name not in error.detail


def test_gender_must_be_a_script_code() -> None:
    error = refused(build(Request(patient=Person(gender="MALE"))))
    assert error.detail == "Patient/HumanPatient/Gender is not M, F or U"


def test_a_repeated_patient_is_refused() -> None:
    body = build(Request())
    start, end = body.index(b"<Patient>"), body.index(b"</Patient>") + len(b"</Patient>")
    error = refused(body[:end] + body[start:end] + body[end:])
    assert error.location == ("/Message/Body/RxHistoryRequest/Patient[2]",)
    assert error.detail == "Patient[2] is repeated"


def test_a_non_human_patient_is_unsupported() -> None:
    body = build(Request()).replace(b"HumanPatient>", b"NonHumanPatient>")
    refused(body, pb.ERROR_CODE_UNSUPPORTED)


def test_10_6_refuses_the_2017071_shape() -> None:
    body = build(Request()).replace(
        b'TransactionVersion="20170715" StructuresVersion="20170715"', b'version="010" release="006"'
    )
    error = refused(body)
    assert error.detail == "Patient/Name is required"


def test_a_schema_complaint_names_the_place_but_not_the_value() -> None:
    body = build(Request(version="10.6", patient=Person(postal="ABCDE", state="MA")))
    error = refused(body)
    assert error.location == ("/Message/Body/RxHistoryRequest/Patient/Address/ZipCode",)
    assert "ABCDE" not in error.detail
    assert "schema" in error.detail


def test_an_element_the_2017071_subset_does_not_know_is_refused() -> None:
    body = build(Request()).replace(b"<Gender>M</Gender>", b"<Gender>M</Gender><Religion>none</Religion>")
    error = refused(body)
    assert error.location == ("/Message/Body/RxHistoryRequest/Patient/HumanPatient/Religion",)
    assert error.detail.startswith("Patient/HumanPatient/Religion is not expected here")
    assert "none" not in error.detail


def test_2017071_request_children_may_come_in_any_order() -> None:
    body = build(Request(start="2024-01-01"))
    patient_start, patient_end = body.index(b"<Patient>"), body.index(b"</Patient>") + len(b"</Patient>")
    moved = body[:patient_start] + body[patient_end:]
    moved = moved.replace(b"</RxHistoryRequest>", body[patient_start:patient_end] + b"</RxHistoryRequest>")
    assert decode(moved).request.patient.name.family == "SAMUELS"


# --- the end user ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
def test_a_prescriber_agent_is_an_unlicensed_delegate(version: str) -> None:
    request = decode(build(Request(version=version, agent=("DOE", "JANE"), dea="AA1234563"))).request  # type: ignore[arg-type]
    assert request.requester.role == pb.ROLE_UNLICENSED_DELEGATE
    assert request.requester.practitioner.name == pb.HumanName(family="DOE", given="JANE")
    assert request.requester.on_behalf_of.npi == "1928340565"
    assert request.requester.on_behalf_of.dea == "AA1234563"


@pytest.mark.parametrize("version", VERSIONS)
def test_a_prescriber_needs_an_npi_dea_or_licence(version: str) -> None:
    error = refused(build(Request(version=version, npi="")))  # type: ignore[arg-type]
    assert error.detail == "Prescriber needs an NPI, DEANumber or StateLicenseNumber"


@pytest.mark.parametrize("version", VERSIONS)
def test_a_licence_alone_identifies_a_prescriber(version: str) -> None:
    request = decode(build(Request(version=version, npi="", license="MD-9"))).request  # type: ignore[arg-type]
    assert request.requester.practitioner.state_license == "MD-9"


@pytest.mark.parametrize("version", VERSIONS)
def test_a_request_must_name_its_end_user(version: str) -> None:
    error = refused(build(Request(version=version, prescriber=False)))  # type: ignore[arg-type]
    assert error.location == ("/Message/Body/RxHistoryRequest",)
    assert "names no end user" in error.detail


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(("qualifier", "role"), [("P", pb.ROLE_PHARMACIST), ("D", pb.ROLE_PRESCRIBER)])
def test_with_both_the_sender_decides_who_asks(version: str, qualifier: str, role: int) -> None:
    body = build(Request(version=version, pharmacist=("CHEN", "LI"), from_=("SENDER", qualifier)))  # type: ignore[arg-type]
    assert decode(body).request.requester.role == role


def test_a_veterinarian_is_unsupported() -> None:
    body = build(Request()).replace(b"NonVeterinarian>", b"Veterinarian>")
    refused(body, pb.ERROR_CODE_UNSUPPORTED)


def test_a_pharmacy_without_an_identifier_is_named_by_its_store_name() -> None:
    body = sample(SAMPLE_10_6_PHARMACIST).replace(
        b"<Identification><NCPDPID>1234567</NCPDPID><NPI>1003000126</NPI></Identification>", b""
    )
    assert decode(body).request.requester.organization == "MAIN STREET PHARMACY"


# --- the period ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (None, None, ((TODAY - timedelta(days=DEFAULT_DAYS)), TODAY)),
        ("2024-01-01", None, (TODAY.replace(month=1, day=1), TODAY)),
        (
            None,
            "2024-03-31",
            (TODAY.replace(month=3, day=31) - timedelta(days=DEFAULT_DAYS), TODAY.replace(month=3, day=31)),
        ),
        ("2024-02-01", "2024-02-29", (TODAY.replace(month=2, day=1), TODAY.replace(month=2, day=29))),
        ("2024-05-02", "2024-05-02", (TODAY, TODAY)),  # one day of grace: read as today
    ],
)
def test_requested_dates(start: str | None, end: str | None, expected: tuple) -> None:  # type: ignore[type-arg]
    period = decode(build(Request(start=start, end=end))).request.date_range
    assert (period.start, period.end) == (expected[0].isoformat(), expected[1].isoformat())


def test_requested_date_times_are_read_as_their_days() -> None:
    body = build(Request(start="2024-01-01", end="2024-02-01"))
    body = body.replace(b"<Date>2024-01-01</Date>", b"<DateTime>2024-01-01T00:00:00Z</DateTime>")
    assert decode(body).request.date_range == pb.DateRange(start="2024-01-01", end="2024-02-01")


@pytest.mark.parametrize(
    ("start", "end", "where", "problem"),
    [
        ("2024-03-01", "2024-02-01", "RequestedDates", "RequestedDates starts after it ends"),
        ("2020-01-01", "2024-04-01", "RequestedDates", f"RequestedDates span more than the {MAX_DAYS} days allowed"),
        (None, "2024-05-03", "RequestedDates/EndDate", "RequestedDates/EndDate is in the future"),
        ("2024-05-03", None, "RequestedDates/StartDate", "RequestedDates/StartDate is in the future"),
        ("2024-13-01", None, "RequestedDates/StartDate/Date", "is not a valid calendar date"),
        ("2024-01", None, "RequestedDates/StartDate/Date", "is not a full date (YYYY-MM-DD)"),
    ],
)
def test_bad_requested_dates_are_refused(start: str | None, end: str | None, where: str, problem: str) -> None:
    error = refused(build(Request(start=start, end=end)))
    assert error.location == ("/Message/Body/RxHistoryRequest/" + where,)
    assert problem in error.detail


def test_the_default_period_never_exceeds_the_limit() -> None:
    period = decode(build(Request()), default_days=5000, max_days=30).request.date_range
    assert (period.start, period.end) == ((TODAY - timedelta(days=30)).isoformat(), TODAY.isoformat())


# --- read_header -----------------------------------------------------------------------------------------------


def test_read_header_is_best_effort() -> None:
    body = build(replace(Request(), patient=Person(last="")))
    header = read_header(parse_message(body))
    assert header == MessageHeader(
        to=("STATEPMP", "ZZZ"),
        from_=("EHRCLINIC01", "D"),
        message_id="msg-0001",
        sent_time="2024-05-01T12:00:00Z",
        version="2017071",
    )
    no_header = parse_message(body.replace(body[body.index(b"<Header>") : body.index(b"<Body>")], b""))
    assert read_header(no_header) == MessageHeader(("", ""), ("", ""), "", "", "2017071")
    unknown = parse_message(build(Request(root_attributes='version="9"')))
    assert read_header(unknown).version == "10.6"  # type: ignore[union-attr]
