"""``PmpError`` → a ``pmix:PMPPrescriptionReport`` without prescriptions: how a PMIX request is refused.

PMIX has no separate fault message the project knows of (the IEPD is not public), and PMIXStatusCode has a code for
each kind of refusal, so a refusal is the report's root with its status, a PHI-free text and, when the error
carries one (rate limits, an unavailable backend), ``pmix:RetryAfterSeconds``. The status (``pmix_status``):

| error code | PMIXStatusCode |
| --- | --- |
| FORBIDDEN, NOT_REGISTERED, SUSPENDED, UNAUTHENTICATED, INSUFFICIENT_SCOPE | disallowed |
| PATIENT_NOT_FOUND | no-data (the text of ``report.NO_DATA_TEXT``: the same as "found, nothing in the period") |
| PATIENT_AMBIGUOUS | deferred (no candidate described) |
| anything else (rate limited, timeout, backend or audit unavailable, invalid request, …) | error |

The text is the error's ``detail`` (``PmpError`` promises it holds no PHI). With the decoded query the report
echoes its ``pmix:RequestID``, requesting state and period; without one (a request that could not be decoded) it
echoes ``request_id`` when the caller salvaged one (``request.read_request_id``) and nothing else.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from adapters.pmix.codes import DEFAULT_EXCHANGE_NS, DEFERRED, DISALLOWED, ERROR, NO_DATA, exchange_namespace
from adapters.pmix.report import AMBIGUOUS_TEXT, NO_DATA_TEXT, report_end, report_header, report_start
from adapters.pmix.request import PmixQuery
from adapters.xml.write import clean
from protos.errors import PmpError
from protos.pmp.v1 import pmp_pb2 as pb

DISALLOWED_CODES: Final = frozenset(
    {
        pb.ERROR_CODE_FORBIDDEN,
        pb.ERROR_CODE_NOT_REGISTERED,
        pb.ERROR_CODE_SUSPENDED,
        pb.ERROR_CODE_UNAUTHENTICATED,
        pb.ERROR_CODE_INSUFFICIENT_SCOPE,
    }
)
FALLBACK_TEXT: Final = "The request could not be processed"


def pmix_status(error_code: int) -> str:
    """The PMIXStatusCode a refusal with ``error_code`` (a ``pb.ErrorCode``) is reported with."""
    if error_code in DISALLOWED_CODES:
        return DISALLOWED
    if error_code == pb.ERROR_CODE_PATIENT_NOT_FOUND:
        return NO_DATA
    if error_code == pb.ERROR_CODE_PATIENT_AMBIGUOUS:
        return DEFERRED
    return ERROR


def refusal_text(error: PmpError) -> str:
    if error.code == pb.ERROR_CODE_PATIENT_NOT_FOUND:
        return NO_DATA_TEXT
    if error.code == pb.ERROR_CODE_PATIENT_AMBIGUOUS:
        return AMBIGUOUS_TEXT
    return clean(error.detail, 10_000) or FALLBACK_TEXT


def encode_refusal(
    error: PmpError,
    *,
    query: PmixQuery | None,
    disclosing_state: str,
    now: datetime,
    exchange_ns: str = DEFAULT_EXCHANGE_NS,
    request_id: str = "",
) -> bytes:
    """The report refusing a request: its status, a PHI-free text and the retry time, no prescriptions."""
    namespace = exchange_namespace(exchange_ns)
    start = report_start(
        namespace,
        request_id=query.request_id if query is not None else request_id,
        requesting_state=query.requesting_state if query is not None else "",
        disclosing_state=disclosing_state,
        status=pmix_status(error.code),
        text=refusal_text(error),
        retry_after=error.retry_after,
    )
    period = query.request.date_range if query is not None else None
    return (start + report_header(now, period) + report_end()).encode("utf-8")
