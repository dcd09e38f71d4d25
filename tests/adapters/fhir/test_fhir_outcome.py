"""``encode_outcome``: every error code renders a valid OperationOutcome with the right issue type, severity and
PMIXStatusCode; the decoder's own errors get structure / required / invalid."""

from __future__ import annotations

import pytest
from fhir_test_data import EX1, TODAY, valid_outcome, with_changes

from adapters.fhir import decode_pdmp_history, encode_outcome
from adapters.fhir.codes import SYSTEM_PMIX_STATUS
from protos.errors import PmpError
from protos.pmp.v1 import pmp_pb2 as pb

EXPECTED = {
    pb.ERROR_CODE_UNSPECIFIED: ("fatal", "exception", "error"),
    pb.ERROR_CODE_INVALID_REQUEST: ("error", "invalid", "error"),
    pb.ERROR_CODE_UNSUPPORTED: ("error", "not-supported", "error"),
    pb.ERROR_CODE_UNAUTHENTICATED: ("error", "login", "error"),
    pb.ERROR_CODE_FORBIDDEN: ("error", "forbidden", "disallowed"),
    pb.ERROR_CODE_NOT_REGISTERED: ("error", "forbidden", "disallowed"),
    pb.ERROR_CODE_SUSPENDED: ("error", "suspended", "disallowed"),
    pb.ERROR_CODE_RATE_LIMITED: ("error", "throttled", "error"),
    pb.ERROR_CODE_PATIENT_NOT_FOUND: ("error", "not-found", "no-data"),
    pb.ERROR_CODE_PATIENT_AMBIGUOUS: ("error", "multiple-matches", "deferred"),
    pb.ERROR_CODE_BACKEND_UNAVAILABLE: ("fatal", "transient", "error"),
    pb.ERROR_CODE_TIMEOUT: ("fatal", "timeout", "error"),
    pb.ERROR_CODE_AUDIT_UNAVAILABLE: ("fatal", "transient", "error"),
    pb.ERROR_CODE_PAYLOAD_TOO_LARGE: ("error", "too-costly", "error"),
    pb.ERROR_CODE_INTERNAL: ("fatal", "exception", "error"),
    pb.ERROR_CODE_NOT_ACCEPTABLE: ("error", "not-supported", "error"),
    pb.ERROR_CODE_UNSUPPORTED_MEDIA_TYPE: ("error", "not-supported", "error"),
    pb.ERROR_CODE_INSUFFICIENT_SCOPE: ("error", "forbidden", "disallowed"),
}


def test_every_error_code_is_covered() -> None:
    assert set(EXPECTED) == set(pb.ErrorCode.values())


@pytest.mark.parametrize("code", sorted(EXPECTED), ids=lambda c: pb.ErrorCode.Name(c))
def test_each_error_code(code: int) -> None:
    error = PmpError(code, "Something went wrong", location=("Parameters.parameter[0]",))
    out = valid_outcome(encode_outcome(error))
    (issue,) = out["issue"]
    severity, kind, status = EXPECTED[code]
    assert (issue["severity"], issue["code"]) == (severity, kind)
    assert issue["details"]["coding"] == [
        {"system": SYSTEM_PMIX_STATUS, "code": status, "display": issue["details"]["coding"][0]["display"]}
    ]
    assert issue["details"]["text"] == issue["diagnostics"] == "Something went wrong"
    assert issue["expression"] == ["Parameters.parameter[0]"]


def test_no_location_no_expression() -> None:
    (issue,) = valid_outcome(encode_outcome(PmpError(pb.ERROR_CODE_TIMEOUT, "too slow")))["issue"]
    assert "expression" not in issue


def _decode_error(body: bytes) -> PmpError:
    with pytest.raises(PmpError) as caught:
        decode_pdmp_history(body, today=TODAY)
    return caught.value


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        (b"{not json", "structure"),
        (b"[]", "structure"),
        (with_changes(EX1, lambda d: d["parameter"][0]["resource"].update(name={"family": "x"})), "structure"),
        (with_changes(EX1, lambda d: d["parameter"][0]["resource"].update(gender=1)), "structure"),
        (with_changes(EX1, lambda d: d["parameter"].pop(0)), "required"),
        (with_changes(EX1, lambda d: d["parameter"][0]["resource"].pop("birthDate")), "required"),
        (with_changes(EX1, lambda d: d["parameter"][0]["resource"].update(birthDate="1980-05")), "invalid"),
        (with_changes(EX1, lambda d: d["parameter"][0]["resource"].update(gender="M")), "invalid"),
    ],
)
def test_decode_errors_get_a_fitting_issue_type(body: bytes, kind: str) -> None:
    error = _decode_error(body)
    (issue,) = valid_outcome(encode_outcome(error))["issue"]
    assert issue["code"] == kind
    assert issue["expression"] == list(error.location)


def test_no_phi_in_the_outcome() -> None:
    body = with_changes(EX1, lambda d: d["parameter"][0]["resource"].update(birthDate="1989-02-30"))
    rendered = encode_outcome(_decode_error(body))
    assert b"1989" not in rendered
    assert b"Samuels" not in rendered
