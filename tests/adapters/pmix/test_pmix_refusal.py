"""``encode_refusal`` and ``pmix_status``: every error code's PMIXStatusCode, the refusal report with and without a
decoded query, and the retry time."""

from __future__ import annotations

import math

import pytest
from pmix_test_data import NOW, OTHER_NS, count, query, read, text

from adapters.pmix import AMBIGUOUS_TEXT, NO_DATA_TEXT, encode_refusal, pmix_status
from protos.errors import PmpError
from protos.pmp.v1 import pmp_pb2 as pb

STATUS = "pmix:ResponseStatus/pmix:ResponseStatusCode"
STATUS_TEXT = "pmix:ResponseStatus/pmix:ResponseStatusText"
RETRY = "pmix:ResponseStatus/pmix:RetryAfterSeconds"
REPORT = "pmp:RequestResponsePrescriptionReport"

EXPECTED = {
    pb.ERROR_CODE_UNSPECIFIED: "error",
    pb.ERROR_CODE_INVALID_REQUEST: "error",
    pb.ERROR_CODE_UNSUPPORTED: "error",
    pb.ERROR_CODE_UNAUTHENTICATED: "disallowed",
    pb.ERROR_CODE_FORBIDDEN: "disallowed",
    pb.ERROR_CODE_NOT_REGISTERED: "disallowed",
    pb.ERROR_CODE_SUSPENDED: "disallowed",
    pb.ERROR_CODE_RATE_LIMITED: "error",
    pb.ERROR_CODE_PATIENT_NOT_FOUND: "no-data",
    pb.ERROR_CODE_PATIENT_AMBIGUOUS: "deferred",
    pb.ERROR_CODE_BACKEND_UNAVAILABLE: "error",
    pb.ERROR_CODE_TIMEOUT: "error",
    pb.ERROR_CODE_AUDIT_UNAVAILABLE: "error",
    pb.ERROR_CODE_PAYLOAD_TOO_LARGE: "error",
    pb.ERROR_CODE_INTERNAL: "error",
    pb.ERROR_CODE_NOT_ACCEPTABLE: "error",
    pb.ERROR_CODE_UNSUPPORTED_MEDIA_TYPE: "error",
    pb.ERROR_CODE_INSUFFICIENT_SCOPE: "disallowed",
}


def test_the_table_covers_every_error_code() -> None:
    assert set(EXPECTED) == set(pb.ErrorCode.values())


@pytest.mark.parametrize(("code", "status"), sorted(EXPECTED.items()))
def test_status_per_error_code(code: pb.ErrorCode.ValueType, status: str) -> None:
    assert pmix_status(code) == status
    error = PmpError(code, "The requester's role may not receive PMP history")
    for decoded in (query(), None):
        root = read(encode_refusal(error, query=decoded, disclosing_state="AZ", now=NOW))
        assert text(root, STATUS) == status
        assert count(root, f"{REPORT}/pmp:Prescription") == 0
        assert count(root, f"{REPORT}/pmp:Patient") == 0


def test_a_code_the_table_does_not_know_is_an_error() -> None:
    assert pmix_status(999) == "error"


def test_with_the_decoded_query_the_request_is_echoed() -> None:
    error = PmpError(pb.ERROR_CODE_SUSPENDED, "The partner state NV is suspended")
    root = read(encode_refusal(error, query=query(), disclosing_state="AZ", now=NOW))
    assert text(root, "pmix:RequestID") == "NV-REQ-1"
    assert text(root, "pmix:RequestingState/nc:LocationStateUSPostalServiceCode") == "NV"
    assert text(root, "pmix:DisclosingState/nc:LocationStateUSPostalServiceCode") == "AZ"
    assert text(root, STATUS_TEXT) == "The partner state NV is suspended"
    assert text(root, f"{REPORT}/pmp:ReportDateRange/pmp:ReportDateRangeBegin/nc:Date") == "2023-05-01"
    assert text(root, f"{REPORT}/pmp:ReportExecutionTime") == "12:30:15Z"


def test_without_a_query_only_what_is_known_is_sent() -> None:
    error = PmpError(pb.ERROR_CODE_INVALID_REQUEST, "The message is not well-formed XML", location=("/",))
    root = read(encode_refusal(error, query=None, disclosing_state="AZ", now=NOW))
    assert count(root, "pmix:RequestID") == 0
    assert count(root, "pmix:RequestingState") == 0
    assert text(root, "pmix:DisclosingState/nc:LocationStateUSPostalServiceCode") == "AZ"
    assert count(root, f"{REPORT}/pmp:ReportDateRange") == 0
    assert text(root, STATUS_TEXT) == "The message is not well-formed XML"
    salvaged = read(encode_refusal(error, query=None, disclosing_state="AZ", now=NOW, request_id="NV-9"))
    assert text(salvaged, "pmix:RequestID") == "NV-9"


def test_no_match_and_ambiguity_use_the_reports_own_texts() -> None:
    """pmpdb's detail might tell "unknown" from "known, nothing in the period": the refusal never passes it on."""
    not_found = PmpError(pb.ERROR_CODE_PATIENT_NOT_FOUND, "no patient above the match threshold")
    ambiguous = PmpError(pb.ERROR_CODE_PATIENT_AMBIGUOUS, "3 candidates")
    root = read(encode_refusal(not_found, query=query(), disclosing_state="AZ", now=NOW))
    assert text(root, STATUS_TEXT) == NO_DATA_TEXT
    root = read(encode_refusal(ambiguous, query=query(), disclosing_state="AZ", now=NOW))
    assert text(root, STATUS_TEXT) == AMBIGUOUS_TEXT


@pytest.mark.parametrize(
    ("retry_after", "expected"),
    [(2.1, "3"), (0.0, "0"), (60.0, "60"), (1e12, "10000000"), (None, None), (-1.0, None), (math.nan, None)],
)
def test_the_retry_time(retry_after: float | None, expected: str | None) -> None:
    error = PmpError(pb.ERROR_CODE_RATE_LIMITED, "Too many requests from NV", retry_after=retry_after)
    root = read(encode_refusal(error, query=query(), disclosing_state="AZ", now=NOW))
    assert text(root, STATUS) == "error"
    assert text(root, RETRY) == expected


def test_texts_are_fitted() -> None:
    error = PmpError(pb.ERROR_CODE_INTERNAL, "boom\x00 " + "x" * 600)
    root = read(encode_refusal(error, query=None, disclosing_state="", now=NOW))
    assert (text(root, STATUS_TEXT) or "").startswith("boom  xxx")
    assert len(text(root, STATUS_TEXT) or "") == 500
    assert count(root, "pmix:DisclosingState") == 0
    blank = read(encode_refusal(PmpError(pb.ERROR_CODE_INTERNAL, " "), query=None, disclosing_state="AZ", now=NOW))
    assert text(blank, STATUS_TEXT) == "The request could not be processed"


def test_another_exchange_namespace() -> None:
    error = PmpError(pb.ERROR_CODE_FORBIDDEN, "Role not allowed")
    body = encode_refusal(error, query=None, disclosing_state="AZ", now=NOW, exchange_ns=OTHER_NS)
    root = read(body, exchange_ns=OTHER_NS)
    assert text(root, STATUS, exchange_ns=OTHER_NS) == "disallowed"
