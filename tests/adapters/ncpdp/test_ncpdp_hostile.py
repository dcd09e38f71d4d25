"""Hostile SCRIPT bodies: each is a ``PmpError`` with a location and no echo of the message; fuzzing finds no other
exception, and every refusal can still be answered with a valid ``Error``."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from ncpdp_test_data import (
    NOW,
    SAMPLE_10_6_PRESCRIBER,
    SAMPLE_2017071_PRESCRIBER,
    SAMPLES_BY_VERSION,
    TODAY,
    Request,
    build,
    read_reply,
    sample,
    text_at,
)

from adapters.ncpdp import NS, RxHistoryQuery, decode_rx_history_request, encode_refusal, parse_message, read_header
from protos.errors import PmpError
from protos.pmp.v1 import pmp_pb2 as pb
from tests.adapters import xml_hostile as hostile

FUZZ = hostile.fuzz(300)


def decode(body: bytes) -> RxHistoryQuery:
    root = parse_message(body)
    return decode_rx_history_request(root, today=TODAY, default_lookback_days=365, max_lookback_days=1098)


def refused(body: bytes, code: int = pb.ERROR_CODE_INVALID_REQUEST) -> PmpError:
    return hostile.refused(lambda: decode(body), code)


def answer_is_valid(error: PmpError, body: bytes) -> None:
    """The refusal renders as a valid 10.6 or 2017071 ``Error`` whatever the body was."""
    try:
        header = read_header(parse_message(body))
    except PmpError:
        header = None
    reply = encode_refusal(error, query=None, header=header, message_id="reply-1", now=NOW)
    root = read_reply(reply, header.version if header is not None else "10.6")
    assert text_at(root, "Body/Error/Code") in {"600", "601", "602", "900"}


ENVELOPE = f'<Message xmlns="{NS}" version="010" release="006">'.encode()
SHAPE = hostile.Shape("Message", ENVELOPE, b"</Message>", b"<Header><To>", b"</To></Header>")


@pytest.mark.parametrize("body", hostile.dtd_bodies(SHAPE))
def test_dtds_and_entities_are_refused(body: bytes) -> None:
    error = refused(body)
    assert error.location == ("/",)
    assert "DTD" in error.detail
    answer_is_valid(error, body)


def test_deep_nesting_is_refused() -> None:
    deep = ENVELOPE + b"<Header>" + hostile.nested(10_000) + b"</Header></Message>"
    error = refused(deep)
    assert "deep" in error.detail
    middling = ENVELOPE + b"<Header>" + hostile.nested(100) + b"</Header></Message>"
    assert refused(middling).detail == "The message nests elements more than 64 deep"


def test_a_huge_element_count_is_refused() -> None:
    body = ENVELOPE + b"<Header>" + b"<To/>" * 5_000 + b"</Header></Message>"
    assert refused(body).detail == "The message has more than 2000 elements"


def test_a_body_over_the_byte_cap_is_payload_too_large() -> None:
    with pytest.raises(PmpError) as caught:
        parse_message(b" " * 100 + sample(SAMPLE_10_6_PRESCRIBER), max_bytes=100)
    assert caught.value.code == pb.ERROR_CODE_PAYLOAD_TOO_LARGE


@pytest.mark.parametrize(("body", "words"), hostile.not_xml_bodies(SHAPE, sample(SAMPLE_10_6_PRESCRIBER)))
def test_not_xml_is_refused(body: bytes, words: str) -> None:
    error = refused(body)
    assert words in error.detail
    answer_is_valid(error, body)


@pytest.mark.parametrize("body", hostile.not_utf8_bodies(sample(SAMPLE_10_6_PRESCRIBER)))
def test_anything_but_utf8_is_refused(body: bytes) -> None:
    error = refused(body)
    assert "UTF-8" in error.detail or "not well-formed" in error.detail
    assert error.location == ("/",)


def test_a_utf8_byte_order_mark_is_accepted() -> None:
    parse_message(b"\xef\xbb\xbf" + sample(SAMPLE_10_6_PRESCRIBER))


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (
            sample(SAMPLE_10_6_PRESCRIBER).replace(NS.encode(), b"http://www.surescripts.com/messaging"),
            f"The root element is not in the namespace {NS}",
        ),
        (
            sample(SAMPLE_10_6_PRESCRIBER).replace(f' xmlns="{NS}"'.encode(), b""),
            f"The root element is not in the namespace {NS}",
        ),
        (
            sample(SAMPLE_10_6_PRESCRIBER).replace(b"<Message ", b"<Envelope ").replace(b"</Message>", b"</Envelope>"),
            "The root element must be Message",
        ),
    ],
)
def test_wrong_namespace_or_root_is_refused(body: bytes, detail: str) -> None:
    error = refused(body)
    assert error.detail == detail
    assert error.location == ("/",)
    answer_is_valid(error, body)


def test_unknown_body_and_empty_body_are_refused_and_answered() -> None:
    body = sample(SAMPLE_2017071_PRESCRIBER)
    start, end = body.index(b"<Body>") + 6, body.index(b"</Body>")
    for unknown in (body[:start] + b"<Gimme><All/></Gimme>" + body[end:], body[:start] + body[end:]):
        error = refused(unknown)
        answer_is_valid(error, unknown)


def test_comments_processing_instructions_and_cdata_are_harmless() -> None:
    body = sample(SAMPLE_10_6_PRESCRIBER).replace(
        b"<LastName>SAMUELS</LastName>", b"<!-- c --><?pi x?><LastName><![CDATA[SAMUELS]]></LastName>"
    )
    query = decode(body)
    assert query.request.patient.name.family == "SAMUELS"


def test_values_are_never_echoed() -> None:
    body = build(Request(version="10.6")).replace(b"<Gender>M</Gender>", b"<Gender>SAMUELS-X</Gender>")
    assert "SAMUELS-X" not in refused(body).detail


# --- fuzzing ---------------------------------------------------------------------------------------------------


def decode_or_refuse(body: bytes) -> None:
    """Decodes, or refuses with a PmpError that has a place and a sentence; any other exception fails the test."""
    refusal = hostile.refusal_of(lambda: decode(body))
    if refusal is not None:
        assert refusal.location
        assert isinstance(refusal.detail, str) and refusal.detail


@FUZZ
@given(st.binary(max_size=3_000))
def test_arbitrary_bytes_raise_only_pmp_error(body: bytes) -> None:
    decode_or_refuse(body)


@FUZZ
@given(st.sampled_from(sorted(SAMPLES_BY_VERSION)), hostile.splices("<>/&;=\"' abcHPRN!?-[]", 5_000))
def test_mutated_samples_raise_only_pmp_error(name: str, splice: hostile.Splice) -> None:
    decode_or_refuse(splice(sample(name)))


_NAMES = [
    "Patient", "HumanPatient", "Name", "LastName", "FirstName", "DateOfBirth", "Date", "DateTime", "Gender",
    "Prescriber", "NonVeterinarian", "Identification", "NPI", "DEANumber", "Pharmacy", "Pharmacist", "Address",
    "RequestedDates", "StartDate", "EndDate", "PrescriberAgent", "CommunicationNumbers", "Communication", "Number",
    "Qualifier", "StateProvince", "State", "ZipCode", "PostalCode", "BenefitsCoordination", "Consent", "Foo",
]  # fmt: skip
_TEXT = hostile.texts(["1989-03-12", "2024-13-01", "M", "X", "1928340565", "", " ", "2024-05-02", "1989-03"])
_ELEMENTS = hostile.elements(_NAMES, _TEXT)


@FUZZ
@given(st.sampled_from(["10.6", "2017071"]), st.lists(_ELEMENTS, max_size=5), st.sampled_from(["D", "P", ""]))
def test_random_script_shaped_requests_raise_only_pmp_error(version: str, children: list[str], qualifier: str) -> None:
    attributes = 'version="010" release="006"' if version == "10.6" else 'TransactionVersion="20170715"'
    body = (
        f'<Message xmlns="{NS}" {attributes}><Header><To>PMP</To><From Qualifier="{qualifier}">EHR</From>'
        f"<MessageID>m1</MessageID><SentTime>2024-05-01T00:00:00Z</SentTime></Header>"
        f"<Body><RxHistoryRequest>{''.join(children)}</RxHistoryRequest></Body></Message>"
    ).encode()
    decode_or_refuse(body)
