"""SearchHistoryResponse and PmpError → RxHistoryResponse / Error: every reply validates against its version's schema
(10.6: the public schema, verbatim; 2017071: the project's), answers the request's MessageID and swaps To/From."""

from __future__ import annotations

import math

import pytest
from ncpdp_test_data import (
    NOW,
    SAMPLE_10_6_PRESCRIBER,
    SAMPLE_2017071_PHARMACIST,
    SAMPLE_2017071_PRESCRIBER,
    SAMPLES_BY_VERSION,
    Person,
    Request,
    at,
    build,
    decode,
    dispensation,
    found,
    read_reply,
    sample,
    text_at,
)

from adapters.ncpdp import (
    DENIED_CODES,
    ERROR_CODES,
    RxHistoryQuery,
    encode_denied,
    encode_error,
    encode_refusal,
    encode_rx_history_response,
    error_code,
)
from adapters.ncpdp.response import AMBIGUOUS_TEXT, NO_DATA_TEXT, more_note
from protos.errors import PmpError
from protos.pmp.v1 import pmp_pb2 as pb

SAMPLE_NAMES = sorted(SAMPLES_BY_VERSION)
HISTORY = "Body/RxHistoryResponse"


def query_of(name: str) -> RxHistoryQuery:
    return decode(sample(name))


def reply(response: pb.SearchHistoryResponse, query: RxHistoryQuery, **options: int) -> object:
    body = encode_rx_history_response(response, query=query, message_id="reply-0001", now=NOW, **options)
    return read_reply(body, query.version)


def dispensed_path(version: str) -> str:
    return f"{HISTORY}/MedicationDispensed"


def patient_path(version: str) -> str:
    return f"{HISTORY}/Patient/HumanPatient" if version == "2017071" else f"{HISTORY}/Patient"


# --- the envelope ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_the_reply_answers_the_request(name: str) -> None:
    query = query_of(name)
    root = reply(found(query, 3), query)
    header = query.header
    assert text_at(root, "Header/To") == header.from_[0]
    assert at(root, "Header/To")[0].get("Qualifier") == header.from_[1]
    assert text_at(root, "Header/From") == header.to[0]
    assert at(root, "Header/From")[0].get("Qualifier") == header.to[1]
    assert text_at(root, "Header/MessageID") == "reply-0001"
    assert text_at(root, "Header/RelatesToMessageID") == header.message_id
    assert text_at(root, "Header/SentTime") == "2024-05-01T12:30:15.250Z"
    if query.version == "10.6":
        assert (root.get("version"), root.get("release")) == ("010", "006")
    else:
        assert root.get("TransactionVersion") == "20170715"


# --- Approved --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_approved_with_dispensations(name: str) -> None:
    query = query_of(name)
    root = reply(found(query, 25), query)
    assert at(root, f"{HISTORY}/Response/Approved")
    assert text_at(root, f"{HISTORY}/Response/Approved/Note") is None  # all were sent
    assert len(at(root, dispensed_path(query.version))) == 25
    assert text_at(root, f"{patient_path(query.version)}/Name/LastName") == query.request.patient.name.family
    assert text_at(root, f"{patient_path(query.version)}/DateOfBirth/Date") == query.request.patient.birth_date
    if query.version == "10.6":
        assert len(at(root, f"{HISTORY}/BenefitsCoordination")) == 1
    else:
        assert text_at(root, f"{HISTORY}/RequestedDates/StartDate/Date") == query.request.date_range.start
        assert text_at(root, f"{HISTORY}/RequestedDates/EndDate/Date") == query.request.date_range.end


@pytest.mark.parametrize("name", [SAMPLE_10_6_PRESCRIBER, SAMPLE_2017071_PRESCRIBER])
def test_a_dispensation_in_full(name: str) -> None:
    query = query_of(name)
    root = reply(found(query, 1), query)
    (d,) = at(root, dispensed_path(query.version))
    v10 = query.version == "10.6"

    def get(path: str) -> str | None:
        return text_at(d, path)

    assert get("DrugDescription") == "OXYCODONE HCL 5 MG TABLET"
    if v10:
        assert (get("DrugCoded/ProductCode"), get("DrugCoded/ProductCodeQualifier")) == ("00406052301", "ND")
        assert get("DrugCoded/Strength") == "5 MG"
        assert (get("Quantity/UnitSourceCode"), get("Quantity/PotencyUnitCode")) == ("AC", "C64933")
        assert get("Pharmacy/StoreName") == "MAIN STREET PHARMACY"
        assert get("Pharmacy/Address/ZipCode") == "010591234"
        assert get("Pharmacy/CommunicationNumbers/Communication/Number") == "4135550199"
        prescriber = "Prescriber"
    else:
        assert (get("DrugCoded/ProductCode/Code"), get("DrugCoded/ProductCode/Qualifier")) == ("00406052301", "ND")
        assert get("Quantity/QuantityUnitOfMeasure/Code") == "C64933"
        assert get("Pharmacy/BusinessName") == "MAIN STREET PHARMACY"
        assert get("Pharmacy/Address/PostalCode") == "010591234"
        assert get("Pharmacy/CommunicationNumbers/PrimaryTelephone/Number") == "4135550199"
        prescriber = "Prescriber/NonVeterinarian"
    assert (get("Quantity/Value"), get("Quantity/CodeListQualifier")) == ("30", "87")
    assert get("DaysSupply") == "15"
    assert get("WrittenDate/Date") == "2024-01-02"
    assert get("LastFillDate/Date") == "2024-01-03"
    assert get("SoldDate/Date") == "2024-01-04"
    assert (get("Pharmacy/Identification/NCPDPID"), get("Pharmacy/Identification/NPI")) == ("1234567", "1003000126")
    assert get("Pharmacy/Identification/DEANumber") == "BM1234563"
    assert get(f"{prescriber}/Identification/NPI") == "1928340565"
    assert get(f"{prescriber}/Identification/DEANumber") == "AA1234563"
    assert get(f"{prescriber}/Identification/StateLicenseNumber") == "MD-1"
    assert get(f"{prescriber}/Name/LastName") == "AMSTER"
    assert (get("HistorySource/SourceReference"), get("HistorySource/FillNumber")) == ("RX000000", "0")


@pytest.mark.parametrize("name", SAMPLE_NAMES)
@pytest.mark.parametrize(("unit", "code"), [("01", "C64933"), ("02", "C28254"), ("03", "C48155"), ("", "C38046")])
def test_quantity_units(name: str, unit: str, code: str) -> None:
    query = query_of(name)
    response = found(query, 0)
    response.dispensations.append(dispensation(quantity=7.25, quantity_unit=unit))
    root = reply(response, query)
    path = "Quantity/PotencyUnitCode" if query.version == "10.6" else "Quantity/QuantityUnitOfMeasure/Code"
    (d,) = at(root, dispensed_path(query.version))
    assert (text_at(d, "Quantity/Value"), text_at(d, path)) == ("7.25", code)


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_more_than_300_says_so_in_the_note(name: str) -> None:
    query = query_of(name)
    root = reply(found(query, 350, total=1234), query)
    assert len(at(root, dispensed_path(query.version))) == 300
    approved = f"{HISTORY}/Response/Approved"
    assert text_at(root, f"{approved}/ApprovalReasonCode") == "AQ"
    note = text_at(root, f"{approved}/Note")
    assert note is not None and note.startswith("300 of 1234 fills sent")
    assert "RequestedDates" in note and len(note) <= 70


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_fewer_returned_than_found_says_so(name: str) -> None:
    query = query_of(name)
    root = reply(found(query, 20, total=45), query)
    assert text_at(root, f"{HISTORY}/Response/Approved/Note").startswith("20 of 45 fills")  # type: ignore[union-attr]


def test_max_dispensed_is_honoured() -> None:
    query = query_of(SAMPLE_2017071_PRESCRIBER)
    root = reply(found(query, 30), query, max_dispensed=10)
    assert len(at(root, dispensed_path("2017071"))) == 10
    assert text_at(root, f"{HISTORY}/Response/Approved/Note").startswith("10 of 30")  # type: ignore[union-attr]


@pytest.mark.parametrize("version", ["2017071", "10.6"])
@pytest.mark.parametrize("total", [1, 300, 2**31 - 1])
def test_the_note_always_fits(version: str, total: int) -> None:
    note = more_note(min(total, 300) - 1 if total > 1 else 0, total, version)  # type: ignore[arg-type]
    assert len(note) <= 70


def test_a_record_without_any_date_is_not_sent_and_is_counted() -> None:
    query = query_of(SAMPLE_10_6_PRESCRIBER)
    response = found(query, 2)
    response.dispensations.append(dispensation(9, date_filled="", date_sold="", date_written="not a date"))
    response.total_dispensations = 3
    root = reply(response, query)
    assert len(at(root, dispensed_path("10.6"))) == 2
    assert text_at(root, f"{HISTORY}/Response/Approved/Note").startswith("2 of 3")  # type: ignore[union-attr]


def test_the_sold_date_stands_in_for_a_missing_fill_date() -> None:
    query = query_of(SAMPLE_2017071_PRESCRIBER)
    response = found(query, 0)
    response.dispensations.append(dispensation(date_filled=""))
    (d,) = at(reply(response, query), dispensed_path("2017071"))
    assert text_at(d, "LastFillDate/Date") == "2024-01-04"


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_drug_description_fallbacks(name: str) -> None:
    query = query_of(name)
    response = found(query, 0)
    no_drug = dispensation(1)
    no_drug.ClearField("drug")
    compound = dispensation(2, product_id_qualifier="06", ndc="99999")
    compound.ClearField("drug")
    response.dispensations.extend([no_drug, compound])
    first, second = at(reply(response, query), dispensed_path(query.version))
    assert text_at(first, "DrugDescription") == "NDC 00406052301"
    assert text_at(second, "DrugDescription") == "Drug not identified"
    assert not at(second, "DrugCoded")


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_values_that_do_not_fit_are_fitted_or_left_out(name: str) -> None:
    query = query_of(name)
    response = found(query, 0)
    response.patients[0].name.family = 'Müller-Łukasz & <Sons> "Ltd"\x07'
    response.patients[0].address.CopyFrom(pb.Address(state="Massachusetts", postal_code="0105"))
    pharmacy = pb.Pharmacy(name="Ω" * 80, ncpdp="1234567", address=pb.Address(state="ma", postal_code="01059"))
    response.dispensations.append(
        dispensation(quantity=-3, days_supply=4000, refill_number=150, rx_number="R" * 50, pharmacy=pharmacy)
    )
    root = reply(response, query)
    family = text_at(root, f"{patient_path(query.version)}/Name/LastName")
    if query.version == "10.6":
        assert family == 'Muller-Lukasz & <Sons> "Ltd"'
    else:
        assert family == 'Müller-Łukasz & <Sons> "Ltd"'
    assert not at(root, f"{patient_path(query.version)}/Address")
    (d,) = at(root, dispensed_path(query.version))
    assert not at(d, "Quantity") and not at(d, "DaysSupply")
    assert text_at(d, "HistorySource/SourceReference") == "R" * 35
    assert not at(d, "HistorySource/FillNumber")
    state = "Pharmacy/Address/State" if query.version == "10.6" else "Pharmacy/Address/StateProvince"
    assert text_at(d, state) == "MA"


def test_an_empty_pharmacy_or_prescriber_is_left_out() -> None:
    query = query_of(SAMPLE_2017071_PRESCRIBER)
    response = found(query, 0)
    response.dispensations.append(dispensation(pharmacy=pb.Pharmacy(), prescriber=pb.Practitioner()))
    (d,) = at(reply(response, query), dispensed_path("2017071"))
    assert not at(d, "Pharmacy") and not at(d, "Prescriber")


# --- Denied ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_no_match_is_denied(name: str) -> None:
    query = query_of(name)
    root = reply(pb.SearchHistoryResponse(match_status=pb.MATCH_STATUS_NOT_FOUND), query)
    assert text_at(root, f"{HISTORY}/Response/Denied/DenialReason") == NO_DATA_TEXT
    assert not at(root, dispensed_path(query.version))
    # the patient as asked
    assert text_at(root, f"{patient_path(query.version)}/DateOfBirth/Date") == query.request.patient.birth_date


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_found_without_dispensations_is_the_same_denial(name: str) -> None:
    """The answer must not reveal that the PMP knows the person: same text, the asked demographics only."""
    query = query_of(name)
    response = found(query, 0)
    response.patients[0].name.family = "RECORDNAME"
    response.patients[0].address.line1 = "99 RECORD ST"
    body = encode_rx_history_response(response, query=query, message_id="reply-0001", now=NOW)
    root = read_reply(body, query.version)
    assert text_at(root, f"{HISTORY}/Response/Denied/DenialReason") == NO_DATA_TEXT
    assert b"RECORD" not in body
    no_match = encode_rx_history_response(
        pb.SearchHistoryResponse(match_status=pb.MATCH_STATUS_NOT_FOUND), query=query, message_id="reply-0001", now=NOW
    )
    assert body == no_match


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_ambiguous_is_denied_without_candidates(name: str) -> None:
    query = query_of(name)
    response = pb.SearchHistoryResponse(
        match_status=pb.MATCH_STATUS_AMBIGUOUS,
        patients=[
            pb.MatchedPatient(id="1", name=pb.HumanName(family="CANDIDATEONE"), birth_date="1989-03-12"),
            pb.MatchedPatient(id="2", name=pb.HumanName(family="CANDIDATETWO"), birth_date="1989-03-12"),
        ],
    )
    body = encode_rx_history_response(response, query=query, message_id="reply-0001", now=NOW)
    root = read_reply(body, query.version)
    assert text_at(root, f"{HISTORY}/Response/Denied/DenialReason") == AMBIGUOUS_TEXT
    assert b"CANDIDATE" not in body


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_encode_denied_cuts_and_codes(name: str) -> None:
    query = query_of(name)
    body = encode_denied(query, "word " * 40, message_id="r", now=NOW, reason_code="AA")
    root = read_reply(body, query.version)
    reason = text_at(root, f"{HISTORY}/Response/Denied/DenialReason")
    assert reason is not None and len(reason) <= 70 and reason.endswith("...")
    assert text_at(root, f"{HISTORY}/Response/Denied/DenialReasonCode") == "AA"


# --- Error and refusals ----------------------------------------------------------------------------------------


def test_the_error_code_table() -> None:
    assert set(ERROR_CODES) == set(pb.ErrorCode.values())
    expected = {
        "600": {"RATE_LIMITED", "BACKEND_UNAVAILABLE", "TIMEOUT", "AUDIT_UNAVAILABLE"},
        "601": {
            "INVALID_REQUEST",
            "UNSUPPORTED",
            "PAYLOAD_TOO_LARGE",
            "NOT_ACCEPTABLE",
            "UNSUPPORTED_MEDIA_TYPE",
            "PATIENT_NOT_FOUND",
            "PATIENT_AMBIGUOUS",
        },
        "602": {"INTERNAL", "UNSPECIFIED"},
        "900": {"UNAUTHENTICATED", "SUSPENDED", "NOT_REGISTERED", "FORBIDDEN", "INSUFFICIENT_SCOPE"},
    }
    for code, names in expected.items():
        assert {pb.ErrorCode.Name(c).removeprefix("ERROR_CODE_") for c, v in ERROR_CODES.items() if v == code} == names


@pytest.mark.parametrize("name", SAMPLE_NAMES)
@pytest.mark.parametrize("code", sorted(pb.ErrorCode.values()))
def test_every_error_code_renders_a_valid_error(name: str, code: int) -> None:
    query = query_of(name)
    error = PmpError(code, "Something — “went” wrong & <badly>; " + "more words " * 10)  # type: ignore[arg-type]
    body = encode_error(error, header=query.header, message_id="reply-0001", now=NOW)
    root = read_reply(body, query.version)
    assert text_at(root, "Body/Error/Code") == error_code(error) == ERROR_CODES[code]  # type: ignore[index]
    description = text_at(root, "Body/Error/Description")
    assert description is not None and len(description) <= 70
    assert description.startswith("Something")
    assert text_at(root, "Header/RelatesToMessageID") == query.header.message_id
    assert text_at(root, "Header/To") == query.header.from_[0]


@pytest.mark.parametrize("name", SAMPLE_NAMES)
@pytest.mark.parametrize("code", sorted(pb.ErrorCode.values()))
def test_refusals_are_denied_or_error(name: str, code: int) -> None:
    query = query_of(name)
    error = PmpError(code, "this role may not request prescription histories")  # type: ignore[arg-type]
    root = read_reply(encode_refusal(error, query=query, message_id="reply-0001", now=NOW), query.version)
    if code in DENIED_CODES:
        reason = text_at(root, f"{HISTORY}/Response/Denied/DenialReason")
        expected = {
            pb.ERROR_CODE_PATIENT_NOT_FOUND: NO_DATA_TEXT,
            pb.ERROR_CODE_PATIENT_AMBIGUOUS: AMBIGUOUS_TEXT,
            pb.ERROR_CODE_FORBIDDEN: "this role may not request prescription histories",
        }[code]
        assert reason == expected
    else:
        assert text_at(root, "Body/Error/Code") == ERROR_CODES[code]  # type: ignore[index]
    assert text_at(root, "Header/RelatesToMessageID") == query.header.message_id


def test_a_refusal_before_decoding_is_an_error() -> None:
    error = PmpError(pb.ERROR_CODE_FORBIDDEN, "no")
    root = read_reply(encode_refusal(error, query=None, header=None, message_id="r", now=NOW), "10.6")
    assert text_at(root, "Body/Error/Code") == "900"


@pytest.mark.parametrize("retry", [30, 0.2, 1e12])
def test_rate_limited_says_when_to_retry(retry: float) -> None:
    query = query_of(SAMPLE_2017071_PHARMACIST)
    error = PmpError(pb.ERROR_CODE_RATE_LIMITED, "Too many requests for this client " * 3, retry_after=retry)
    root = read_reply(encode_error(error, header=query.header, message_id="r", now=NOW), "2017071")
    description = text_at(root, "Body/Error/Description")
    assert description is not None and len(description) <= 70
    assert description.endswith(f"; retry after {min(math.ceil(retry), 10**7)} s")
    assert text_at(root, "Body/Error/Code") == "600"


def test_an_error_without_a_header_is_10_6_to_unknown() -> None:
    body = encode_error(
        PmpError(pb.ERROR_CODE_INVALID_REQUEST, "The message is not well-formed XML"),
        header=None,
        message_id="r",
        now=NOW,
    )
    root = read_reply(body, "10.6")
    assert (root.get("version"), root.get("release")) == ("010", "006")
    assert text_at(root, "Header/To") == "UNKNOWN"
    assert text_at(root, "Header/From") == "PMP"
    assert not at(root, "Header/RelatesToMessageID")
    assert text_at(root, "Body/Error/Code") == "601"


def test_an_error_echoes_only_what_fits_the_schema() -> None:
    """A best-effort header from a bad message: unfit parties and MessageID are not echoed."""
    from adapters.ncpdp import MessageHeader

    header = MessageHeader(
        to=("A.B.C.D", "WHAT"), from_=("x" * 80, "D"), message_id="m" * 40, sent_time="", version="10.6"
    )
    root = read_reply(
        encode_error(PmpError(pb.ERROR_CODE_INTERNAL, "x"), header=header, message_id="r", now=NOW), "10.6"
    )
    assert text_at(root, "Header/To") == "UNKNOWN"
    assert text_at(root, "Header/From") == "PMP"
    assert not at(root, "Header/RelatesToMessageID")


@pytest.mark.parametrize("version", ["2017071", "10.6"])
def test_special_characters_in_the_request_come_back_escaped(version: str) -> None:
    query = decode(build(Request(version=version, message_id="a&b<c>\"d'", patient=Person(last="O'Brien & <Co>"))))  # type: ignore[arg-type]
    root = reply(found(query, 1), query)
    assert text_at(root, "Header/RelatesToMessageID") == "a&b<c>\"d'"
    assert text_at(root, f"{patient_path(version)}/Name/LastName") == "O'Brien & <Co>"


@pytest.mark.parametrize("version", ["2017071", "10.6"])
def test_a_request_refused_while_decoding_gets_an_error_in_its_version(version: str) -> None:
    from adapters.ncpdp import decode_rx_history_request, parse_message, read_header

    root = parse_message(build(Request(version=version, message_id="bad-1", patient=Person(last=""))))  # type: ignore[arg-type]
    with pytest.raises(PmpError) as caught:
        decode_rx_history_request(root, today=NOW.date(), default_lookback_days=365, max_lookback_days=1098)
    header = read_header(root)
    body = encode_refusal(caught.value, query=None, header=header, message_id="r", now=NOW, responder="MAPMP")
    reply_root = read_reply(body, version)  # type: ignore[arg-type]
    assert text_at(reply_root, "Body/Error/Code") == "601"
    assert text_at(reply_root, "Body/Error/Description") == caught.value.detail
    assert text_at(reply_root, "Header/RelatesToMessageID") == "bad-1"
    assert text_at(reply_root, "Header/From") == "STATEPMP"  # the request's To, not the responder


def test_the_responder_stands_in_for_an_unusable_to() -> None:
    body = encode_error(PmpError(pb.ERROR_CODE_TIMEOUT, "t"), header=None, message_id="r", now=NOW, responder="MAPMP")
    assert text_at(read_reply(body, "10.6"), "Header/From") == "MAPMP"
    bad = encode_error(PmpError(pb.ERROR_CODE_TIMEOUT, "t"), header=None, message_id="r", now=NOW, responder="x" * 40)
    assert text_at(read_reply(bad, "10.6"), "Header/From") == "PMP"
