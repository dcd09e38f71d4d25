"""Hostile SCRIPT bodies: each is a ``PmpError`` with a location and no echo of the message; fuzzing finds no other
exception, and every refusal can still be answered with a valid ``Error``."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
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

from adapters.ncpdp import NS, decode_rx_history_request, encode_refusal, parse_message, read_header
from protos.errors import PmpError
from protos.pmp.v1 import pmp_pb2 as pb

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SECRET = "SAMUELS"  # a value of the sample messages that must never come back in a refusal


def refused(body: bytes, code: int = pb.ERROR_CODE_INVALID_REQUEST) -> PmpError:
    with pytest.raises(PmpError) as caught:
        decode_rx_history_request(parse_message(body), today=TODAY, default_lookback_days=365, max_lookback_days=1098)
    error = caught.value
    assert error.code == code, error
    assert error.location and all(isinstance(where, str) and where.startswith("/") for where in error.location)
    assert SECRET not in error.detail and "root:" not in error.detail
    return error


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


@pytest.mark.parametrize(
    "body",
    [
        # XXE: an external entity reading a local file
        b'<?xml version="1.0"?><!DOCTYPE Message [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        + ENVELOPE
        + b"<Header><To>&xxe;</To></Header></Message>",
        # XXE through a parameter entity and an external DTD over the network
        b'<!DOCTYPE Message [<!ENTITY % remote SYSTEM "http://127.0.0.1:9/evil.dtd"> %remote;]>'
        + ENVELOPE
        + b"</Message>",
        b'<!DOCTYPE Message SYSTEM "http://127.0.0.1:9/script.dtd">' + ENVELOPE + b"</Message>",
        # billion laughs
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        + b"".join(
            f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'.encode() for i in range(1, 10)
        )
        + b"]>"
        + ENVELOPE
        + b"<Header><To>&lol9;</To></Header></Message>",
        # an internal DTD with no entity at all is refused too
        b"<!DOCTYPE Message []>" + ENVELOPE + b"</Message>",
    ],
)
def test_dtds_and_entities_are_refused(body: bytes) -> None:
    error = refused(body)
    assert error.location == ("/",)
    assert "DTD" in error.detail
    answer_is_valid(error, body)


def test_deep_nesting_is_refused() -> None:
    deep = ENVELOPE + b"<Header>" + b"<a>" * 10_000 + b"</a>" * 10_000 + b"</Header></Message>"
    error = refused(deep)
    assert "deep" in error.detail
    middling = ENVELOPE + b"<Header>" + b"<a>" * 100 + b"</a>" * 100 + b"</Header></Message>"
    assert refused(middling).detail == "The message nests elements more than 64 deep"


def test_a_huge_element_count_is_refused() -> None:
    body = ENVELOPE + b"<Header>" + b"<To/>" * 5_000 + b"</Header></Message>"
    assert refused(body).detail == "The message has more than 2000 elements"


def test_a_body_over_the_byte_cap_is_payload_too_large() -> None:
    with pytest.raises(PmpError) as caught:
        parse_message(b" " * 100 + sample(SAMPLE_10_6_PRESCRIBER), max_bytes=100)
    assert caught.value.code == pb.ERROR_CODE_PAYLOAD_TOO_LARGE


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"", "empty"),
        (b"   \n ", "empty"),
        (b"SAMUELS 1989-03-12", "not well-formed"),
        (b'{"resourceType": "Parameters"}', "not well-formed"),
        (sample(SAMPLE_10_6_PRESCRIBER)[:-40], "not well-formed"),
        (ENVELOPE + b"<Header><To>&undefined;</To></Header></Message>", "not well-formed"),
        (ENVELOPE + b"<Header><To>\x01</To></Header></Message>", "not well-formed"),
    ],
)
def test_not_xml_is_refused(body: bytes, words: str) -> None:
    error = refused(body)
    assert words in error.detail
    answer_is_valid(error, body)


@pytest.mark.parametrize(
    "body",
    [
        sample(SAMPLE_10_6_PRESCRIBER).replace(b"SAMUELS", b"SAMU\xffELS"),
        sample(SAMPLE_10_6_PRESCRIBER).replace(b"SAMUELS", b"SAMU\xc3\x28ELS"),
        sample(SAMPLE_10_6_PRESCRIBER).replace(b"SAMUELS", b"SAMU\xed\xa0\x80ELS"),  # an encoded surrogate
        sample(SAMPLE_10_6_PRESCRIBER).replace(b'encoding="UTF-8"', b'encoding="UTF-16"'),
        sample(SAMPLE_10_6_PRESCRIBER).replace(b'encoding="UTF-8"', b'encoding="ISO-8859-1"'),
        sample(SAMPLE_10_6_PRESCRIBER).decode().encode("utf-16"),
        sample(SAMPLE_10_6_PRESCRIBER).decode().replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16-le"),
    ],
)
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
    for hostile in (body[:start] + b"<Gimme><All/></Gimme>" + body[end:], body[:start] + body[end:]):
        error = refused(hostile)
        answer_is_valid(error, hostile)


def test_comments_processing_instructions_and_cdata_are_harmless() -> None:
    body = sample(SAMPLE_10_6_PRESCRIBER).replace(
        b"<LastName>SAMUELS</LastName>", b"<!-- c --><?pi x?><LastName><![CDATA[SAMUELS]]></LastName>"
    )
    query = decode_rx_history_request(
        parse_message(body), today=TODAY, default_lookback_days=365, max_lookback_days=1098
    )
    assert query.request.patient.name.family == "SAMUELS"


def test_values_are_never_echoed() -> None:
    body = build(Request(version="10.6")).replace(b"<Gender>M</Gender>", b"<Gender>SAMUELS-X</Gender>")
    assert "SAMUELS-X" not in refused(body).detail


# --- fuzzing ---------------------------------------------------------------------------------------------------


def decode_or_refuse(body: bytes) -> None:
    """Decodes, or refuses with a PmpError that has a place and a sentence; any other exception fails the test."""
    refusal: PmpError | None = None
    try:
        root = parse_message(body)
        decode_rx_history_request(root, today=TODAY, default_lookback_days=365, max_lookback_days=1098)
    except PmpError as error:
        refusal = error
    if refusal is not None:
        assert refusal.location
        assert isinstance(refusal.detail, str) and refusal.detail


@FUZZ
@given(st.binary(max_size=3_000))
def test_arbitrary_bytes_raise_only_pmp_error(body: bytes) -> None:
    decode_or_refuse(body)


@FUZZ
@given(
    st.sampled_from(sorted(SAMPLES_BY_VERSION)),
    st.integers(min_value=0, max_value=5_000),
    st.integers(min_value=0, max_value=40),
    st.binary(max_size=40) | st.text(alphabet="<>/&;=\"' abcHPRN!?-[]", max_size=40).map(str.encode),
)
def test_mutated_samples_raise_only_pmp_error(name: str, at: int, cut: int, insert: bytes) -> None:
    body = sample(name)
    at = min(at, len(body))
    decode_or_refuse(body[:at] + insert + body[at + cut :])


_NAMES = [
    "Patient", "HumanPatient", "Name", "LastName", "FirstName", "DateOfBirth", "Date", "DateTime", "Gender",
    "Prescriber", "NonVeterinarian", "Identification", "NPI", "DEANumber", "Pharmacy", "Pharmacist", "Address",
    "RequestedDates", "StartDate", "EndDate", "PrescriberAgent", "CommunicationNumbers", "Communication", "Number",
    "Qualifier", "StateProvince", "State", "ZipCode", "PostalCode", "BenefitsCoordination", "Consent", "Foo",
]  # fmt: skip
_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12) | st.sampled_from(
    ["1989-03-12", "2024-13-01", "M", "X", "1928340565", "", " ", "2024-05-02", "1989-03"]
)


def _xml_text(value: str) -> str:
    return (
        "".join(c for c in value if c in "\t\n\r" or " " <= c <= "\ud7ff" or "\ue000" <= c <= "\ufffd")
        .replace("&", "&amp;")
        .replace("<", "&lt;")
    )


_ELEMENTS = st.recursive(
    st.builds(lambda n, t: f"<{n}>{_xml_text(t)}</{n}>", st.sampled_from(_NAMES), _TEXT),
    lambda inner: st.builds(
        lambda n, kids: f"<{n}>{''.join(kids)}</{n}>", st.sampled_from(_NAMES), st.lists(inner, max_size=4)
    ),
    max_leaves=25,
)


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
