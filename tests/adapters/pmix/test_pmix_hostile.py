"""Hostile PMIX bodies, to ``parse_request`` and to ``decode_report``: each is a ``PmpError`` with a place and no echo
of the document, found without expanding, fetching or descending into anything; fuzzing finds no other exception,
and every refusal can still be answered with a valid report."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pmix_test_data import NOW, encoded, parse, read, sample, text

from adapters.pmix import DEFAULT_EXCHANGE_NS, INVALID_REPORT, decode_report, encode_refusal, read_request_id
from protos.errors import PmpError
from protos.pmp.v1 import pmp_pb2 as pb
from tests.adapters import xml_hostile as hostile

FUZZ = hostile.fuzz(150)
ROOT = f'<PMPRequest xmlns="{DEFAULT_EXCHANGE_NS}" xmlns:nc="http://release.niem.gov/niem/niem-core/4.0/">'.encode()
END = b"</PMPRequest>"
SHAPE = hostile.Shape("PMPRequest", ROOT, END, b"<RequestID>", b"</RequestID>")


def refused(body: bytes, code: int = pb.ERROR_CODE_INVALID_REQUEST) -> PmpError:
    error = hostile.refused(lambda: parse(body), code)
    answer_is_valid(error, body)
    return error


def answer_is_valid(error: PmpError, body: bytes) -> None:
    """The refusal renders as a valid report whatever the body was."""
    reply = encode_refusal(error, query=None, disclosing_state="AZ", now=NOW, request_id=read_request_id(body))
    root = read(reply)
    assert text(root, "pmix:ResponseStatus/pmix:ResponseStatusCode") == "error"


def report_refused(body: bytes) -> None:
    with pytest.raises(PmpError) as caught:
        decode_report(body, disclosing_state="AZ")
    assert (caught.value.code, caught.value.detail) == (pb.ERROR_CODE_BACKEND_UNAVAILABLE, INVALID_REPORT)


@pytest.mark.parametrize("body", hostile.dtd_bodies(SHAPE))
def test_dtds_and_entities_are_refused(body: bytes) -> None:
    error = refused(body)
    assert error.location == ("/",)
    assert "DTD" in error.detail
    report_refused(body.replace(b"PMPRequest", b"PMPPrescriptionReport"))


def test_deep_nesting_is_refused() -> None:
    very_deep = ROOT + b"<Requester>" + hostile.nested(10_000) + b"</Requester>" + END
    assert "deep" in refused(very_deep).detail
    deep = ROOT + b"<Requester>" + hostile.nested(40) + b"</Requester>" + END
    assert refused(deep).detail == "The message nests elements more than 32 deep"
    report_refused(very_deep)


def test_a_huge_element_count_is_refused() -> None:
    body = ROOT + b"<RequestID/>" * 5_000 + END
    assert refused(body).detail == "The message has more than 1000 elements"


def test_a_body_over_the_byte_cap_is_payload_too_large() -> None:
    body = encoded() + b"<!--" + b" " * (1 << 20) + b"-->"
    error = refused(body, pb.ERROR_CODE_PAYLOAD_TOO_LARGE)
    assert error.detail == "The message is larger than the 1048576 bytes allowed"


@pytest.mark.parametrize(("body", "words"), hostile.not_xml_bodies(SHAPE, sample()))
def test_not_xml_is_refused(body: bytes, words: str) -> None:
    assert words in refused(body).detail
    report_refused(body)


@pytest.mark.parametrize("body", hostile.not_utf8_bodies(sample()))
def test_anything_but_utf8_is_refused(body: bytes) -> None:
    error = refused(body)
    assert "UTF-8" in error.detail or "not well-formed" in error.detail
    assert error.location == ("/",)
    report_refused(body)


def test_a_utf8_byte_order_mark_is_accepted() -> None:
    assert parse(b"\xef\xbb\xbf" + sample()).request_id == "MA-2024-000123"


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (
            sample().replace(DEFAULT_EXCHANGE_NS.encode(), b"urn:someone:else"),
            f"The root element is not in the PMIX exchange namespace {DEFAULT_EXCHANGE_NS}",
        ),
        (
            sample().replace(f' xmlns="{DEFAULT_EXCHANGE_NS}"'.encode(), b""),
            f"The root element is not in the PMIX exchange namespace {DEFAULT_EXCHANGE_NS}",
        ),
        (
            sample().replace(b"<PMPRequest ", b"<Envelope ").replace(b"</PMPRequest>", b"</Envelope>"),
            "The root element must be pmix:PMPRequest",
        ),
        (
            sample().replace(b"http://pmixpmp.org/niem/4.0/extension", b"http://pmixpmp.org/niem/3.0/extension"),
            "pmp:RequestPatient",
        ),
    ],
)
def test_wrong_namespace_or_root_is_refused(body: bytes, detail: str) -> None:
    error = refused(body)
    assert error.detail.startswith(detail) or "is not expected here" in error.detail, error.detail


def test_comments_processing_instructions_and_cdata_are_harmless() -> None:
    body = sample().replace(
        b"<core:PersonSurName>SAMUELS</core:PersonSurName>",
        b"<!-- c --><?pi x?><core:PersonSurName><![CDATA[SAMUELS]]></core:PersonSurName>",
    )
    assert parse(body).request.patient.name.family == "SAMUELS"


def test_values_are_never_echoed() -> None:
    body = sample().replace(b"<jxdm:PersonSexCode>M<", b"<jxdm:PersonSexCode>SAMUELS-X<")
    assert "SAMUELS-X" not in refused(body).detail


# --- fuzzing ---------------------------------------------------------------------------------------------------


def decode_or_refuse(body: bytes) -> None:
    """Decodes, or refuses with a PmpError that has a place and a sentence; any other exception fails the test."""
    request_refusal = hostile.refusal_of(lambda: parse(body))
    if request_refusal is not None:
        assert request_refusal.location and request_refusal.detail
    report_refusal = hostile.refusal_of(lambda: decode_report(body, disclosing_state="AZ"))
    if report_refusal is not None:
        assert (report_refusal.code, report_refusal.detail) == (pb.ERROR_CODE_BACKEND_UNAVAILABLE, INVALID_REPORT)


@FUZZ
@given(st.binary(max_size=2_000))
def test_arbitrary_bytes_raise_only_pmp_error(body: bytes) -> None:
    decode_or_refuse(body)


@FUZZ
@given(st.sampled_from(["sample", "encoded"]), hostile.splices("<>/&;=\"' abcnpj:!?-[]", 6_000))
def test_mutated_requests_raise_only_pmp_error(name: str, splice: hostile.Splice) -> None:
    decode_or_refuse(splice(sample() if name == "sample" else encoded()))


_NAMES = [
    "pmix:RequestID", "pmix:Requester", "pmix:RequesterRole", "pmix:RequestingState", "pmp:RequestPatient",
    "nc:PersonName", "nc:PersonSurName", "nc:PersonGivenName", "nc:PersonBirthDate", "nc:Date", "j:PersonSexCode",
    "nc:LocationStateUSPostalServiceCode", "pmp:NPIIdentifier", "nc:IdentificationID", "pmp:Prescription",
    "pmp:RequestPrescriptionDateRange", "pmp:RequestPrescriptionDateRangeBegin", "pmix:ResponseStatus", "Foo",
]  # fmt: skip
_TEXT = hostile.texts(
    ["1989-03-12", "2024-13-01", "M", "X", "NV", "nv", "1928340565", "", " ", "2024-05-02", "1989-03"]
)
_ELEMENTS = hostile.elements(_NAMES, _TEXT)


@FUZZ
@given(st.sampled_from(["PMPRequest", "PMPPrescriptionReport"]), st.lists(_ELEMENTS, max_size=6))
def test_random_pmix_shaped_documents_raise_only_pmp_error(root: str, children: list[str]) -> None:
    body = (
        f'<pmix:{root} xmlns:pmix="{DEFAULT_EXCHANGE_NS}" xmlns:pmp="http://pmixpmp.org/niem/4.0/extension" '
        'xmlns:nc="http://release.niem.gov/niem/niem-core/4.0/" xmlns:j="http://release.niem.gov/niem/domains/jxdm/6.0/">'
        f"{''.join(children)}</pmix:{root}>"
    ).encode()
    decode_or_refuse(body)
