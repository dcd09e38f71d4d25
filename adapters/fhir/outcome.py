"""OperationOutcome: request-level errors (``encode_outcome``) and the processing status of an answer.

Each issue carries an R4 issue-type code and, as the IG asks (standards.md §1.7), a PMIXStatusCode coding in
``details``; ``details.text`` and ``diagnostics`` repeat the message, which never holds PHI (``PmpError`` says so).

| error code | severity | issue.code | PMIXStatusCode |
| --- | --- | --- | --- |
| INVALID_REQUEST | error | structure (not JSON / wrong shape), required (… is required), else invalid | error |
| UNSUPPORTED, NOT_ACCEPTABLE, UNSUPPORTED_MEDIA_TYPE | error | not-supported | error |
| UNAUTHENTICATED | error | login | error |
| FORBIDDEN, INSUFFICIENT_SCOPE, NOT_REGISTERED | error | forbidden | disallowed |
| SUSPENDED | error | suspended | disallowed |
| RATE_LIMITED | error | throttled | error |
| PATIENT_NOT_FOUND | error | not-found | no-data |
| PATIENT_AMBIGUOUS | error | multiple-matches | deferred |
| PAYLOAD_TOO_LARGE | error | too-costly | error |
| TIMEOUT | fatal | timeout | error |
| BACKEND_UNAVAILABLE, AUDIT_UNAVAILABLE | fatal | transient | error |
| INTERNAL, anything else | fatal | exception | error |
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import orjson

from adapters.fhir.codes import PMIX_STATUS, SYSTEM_PMIX_STATUS
from protos.errors import PmpError
from protos.pmp.v1 import pmp_pb2 as pb

Json = dict[str, Any]

_ISSUE: Final[dict[int, tuple[str, str, str]]] = {  # code → (severity, issue type, PMIXStatusCode)
    pb.ERROR_CODE_INVALID_REQUEST: ("error", "invalid", "error"),
    pb.ERROR_CODE_UNSUPPORTED: ("error", "not-supported", "error"),
    pb.ERROR_CODE_NOT_ACCEPTABLE: ("error", "not-supported", "error"),
    pb.ERROR_CODE_UNSUPPORTED_MEDIA_TYPE: ("error", "not-supported", "error"),
    pb.ERROR_CODE_UNAUTHENTICATED: ("error", "login", "error"),
    pb.ERROR_CODE_FORBIDDEN: ("error", "forbidden", "disallowed"),
    pb.ERROR_CODE_INSUFFICIENT_SCOPE: ("error", "forbidden", "disallowed"),
    pb.ERROR_CODE_NOT_REGISTERED: ("error", "forbidden", "disallowed"),
    pb.ERROR_CODE_SUSPENDED: ("error", "suspended", "disallowed"),
    pb.ERROR_CODE_RATE_LIMITED: ("error", "throttled", "error"),
    pb.ERROR_CODE_PATIENT_NOT_FOUND: ("error", "not-found", "no-data"),
    pb.ERROR_CODE_PATIENT_AMBIGUOUS: ("error", "multiple-matches", "deferred"),
    pb.ERROR_CODE_PAYLOAD_TOO_LARGE: ("error", "too-costly", "error"),
    pb.ERROR_CODE_TIMEOUT: ("fatal", "timeout", "error"),
    pb.ERROR_CODE_BACKEND_UNAVAILABLE: ("fatal", "transient", "error"),
    pb.ERROR_CODE_AUDIT_UNAVAILABLE: ("fatal", "transient", "error"),
}
_INTERNAL: Final = ("fatal", "exception", "error")
_STRUCTURE_PHRASES: Final = ("JSON", "must be an array", "must be a string", "must be true or false")

NO_DATA_TEXT: Final = "No PDMP history was found for the submitted patient in the requested period"
AMBIGUOUS_TEXT: Final = (
    "More than one person in the PMP matches the submitted patient; the request needs a manual review by the PMP. "
    "Adding an identifier (e.g. a driver's licence), the full address or the phone number may allow a match."
)


def issue(severity: str, code: str, status: str | None, text: str, expression: Sequence[str] = ()) -> Json:
    """One ``OperationOutcome.issue``; ``status`` is a PMIXStatusCode or None."""
    details: Json = {}
    if status is not None:
        details["coding"] = [{"system": SYSTEM_PMIX_STATUS, "code": status, "display": PMIX_STATUS[status]}]
    details["text"] = text
    out: Json = {"severity": severity, "code": code, "details": details, "diagnostics": text}
    if expression:
        out["expression"] = list(expression)
    return out


def operation_outcome(issues: list[Json]) -> Json:
    return {"resourceType": "OperationOutcome", "issue": issues}


def invalid_issue_type(detail: str) -> str:
    """structure / required / invalid, from the codec's own phrasing (``_json``, ``parameters``)."""
    if detail.endswith(" is required"):
        return "required"
    if any(phrase in detail for phrase in _STRUCTURE_PHRASES):
        return "structure"
    return "invalid"


def error_issue(error: PmpError) -> Json:
    severity, code, status = _ISSUE.get(error.code, _INTERNAL)
    if error.code == pb.ERROR_CODE_INVALID_REQUEST:
        code = invalid_issue_type(error.detail)
    return issue(severity, code, status, error.detail, error.location)


def encode_outcome(error: PmpError) -> bytes:
    """The OperationOutcome the gateway sends with ``error.http_status``."""
    return orjson.dumps(operation_outcome([error_issue(error)]))


def complete_issue(returned: int, by_state: str = "") -> Json:
    """``by_state`` (interstate answers): how many came from each state, e.g. ``UT 3, CO 2``."""
    text = f"{returned} dispensations are included" + (f" ({by_state})" if by_state else "")
    return issue("information", "informational", "complete", text)


def truncated_issue(returned: int, total: int) -> Json:
    """More dispensations in the period than one answer holds: said, never dropped silently."""
    left_out = total - returned
    return issue(
        "warning",
        "incomplete",
        None,
        f"{total} dispensations were found in the requested period; only the newest {returned} are included and "
        f"{left_out} were left out. Narrow the period (pdmp-activity-period-extension) to see the others.",
    )


def no_data_issue() -> Json:
    """The same for 'no such patient' and 'no dispensations in the period': the answer does not reveal which."""
    return issue("information", "informational", "no-data", NO_DATA_TEXT)


def ambiguous_issue() -> Json:
    """Deferred for manual review; the candidates are not described."""
    return issue("warning", "multiple-matches", "deferred", AMBIGUOUS_TEXT)
