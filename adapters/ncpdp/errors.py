"""``PmpError`` → an NCPDP ``Error`` message, or a ``Denied`` RxHistoryResponse when the refusal is a clinical one.

**Denied or Error.** The issue asks for ``Denied`` "for no match, ambiguous match, disallowed role": those are
answers *to the RxHistoryRequest*, so they are an RxHistoryResponse (``encode_refusal`` with the decoded query):

| error code (with a decoded query) | reply |
| --- | --- |
| PATIENT_NOT_FOUND | ``Denied`` "No PMP history for this patient in the requested dates" (the no-data text) |
| PATIENT_AMBIGUOUS | ``Denied`` "More than one patient matches; refine demographics" |
| FORBIDDEN | ``Denied`` with the error's detail (role, purpose or scope refused) |

Everything else — and these three when no query could be decoded — is an ``Error`` (``ERROR_CODES``; 10.6
[V] codes, meanings [M]):

* ``600`` try later — RATE_LIMITED (with the retry time in ``Description``), BACKEND_UNAVAILABLE, TIMEOUT,
  AUDIT_UNAVAILABLE;
* ``601`` unable to process — INVALID_REQUEST, UNSUPPORTED, PAYLOAD_TOO_LARGE, NOT_ACCEPTABLE,
  UNSUPPORTED_MEDIA_TYPE (and PATIENT_NOT_FOUND, PATIENT_AMBIGUOUS without a query);
* ``602`` system error — INTERNAL, UNSPECIFIED;
* ``900`` transaction rejected — UNAUTHENTICATED, NOT_REGISTERED, SUSPENDED (and FORBIDDEN without a query).

``Description`` is the error's ``detail`` (never PHI, ``PmpError`` says so), ASCII in 10.6, cut at a word to the
70 characters of the schema; ``retry_after`` is appended as ``; retry after N s``. ``DescriptionCode`` is not sent:
its code list (001–475) is not public (standards.md §2.4), and a guessed code would mislead more than none.

The reply is in the request's version; with no readable header (not XML, not a SCRIPT Message) it is 10.6,
addressed to ``UNKNOWN`` from ``responder``, without ``RelatesToMessageID``.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Final

from adapters.ncpdp._write import clean, fit, shorten
from adapters.ncpdp.codes import V10_6
from adapters.ncpdp.header import DEFAULT_RESPONDER, MessageHeader, message
from adapters.ncpdp.request import RxHistoryQuery
from adapters.ncpdp.response import AMBIGUOUS_TEXT, FORBIDDEN_TEXT, NO_DATA_TEXT, encode_denied
from protos.errors import ErrorCode, PmpError
from protos.pmp.v1 import pmp_pb2 as pb

DESCRIPTION_LENGTH: Final = 70  # [V] Description an..70
TRY_LATER: Final = "600"
UNABLE_TO_PROCESS: Final = "601"
SYSTEM_ERROR: Final = "602"
REJECTED: Final = "900"

ERROR_CODES: Final[dict[ErrorCode, str]] = {
    pb.ERROR_CODE_UNSPECIFIED: SYSTEM_ERROR,
    pb.ERROR_CODE_INVALID_REQUEST: UNABLE_TO_PROCESS,
    pb.ERROR_CODE_UNSUPPORTED: UNABLE_TO_PROCESS,
    pb.ERROR_CODE_UNAUTHENTICATED: REJECTED,
    pb.ERROR_CODE_FORBIDDEN: REJECTED,
    pb.ERROR_CODE_INSUFFICIENT_SCOPE: REJECTED,  # an OAuth refusal, not a clinical one: Error 900, never Denied
    pb.ERROR_CODE_NOT_REGISTERED: REJECTED,
    pb.ERROR_CODE_SUSPENDED: REJECTED,
    pb.ERROR_CODE_RATE_LIMITED: TRY_LATER,
    pb.ERROR_CODE_PATIENT_NOT_FOUND: UNABLE_TO_PROCESS,
    pb.ERROR_CODE_PATIENT_AMBIGUOUS: UNABLE_TO_PROCESS,
    pb.ERROR_CODE_BACKEND_UNAVAILABLE: TRY_LATER,
    pb.ERROR_CODE_TIMEOUT: TRY_LATER,
    pb.ERROR_CODE_AUDIT_UNAVAILABLE: TRY_LATER,
    pb.ERROR_CODE_PAYLOAD_TOO_LARGE: UNABLE_TO_PROCESS,
    pb.ERROR_CODE_INTERNAL: SYSTEM_ERROR,
    pb.ERROR_CODE_NOT_ACCEPTABLE: UNABLE_TO_PROCESS,
    pb.ERROR_CODE_UNSUPPORTED_MEDIA_TYPE: UNABLE_TO_PROCESS,
}
DENIED_CODES: Final = frozenset(
    {pb.ERROR_CODE_PATIENT_NOT_FOUND, pb.ERROR_CODE_PATIENT_AMBIGUOUS, pb.ERROR_CODE_FORBIDDEN}
)
_MAX_RETRY_SECONDS: Final = 10**7


def error_code(error: PmpError) -> str:
    """The NCPDP Error ``Code`` for ``error`` (602 for a code the table does not know)."""
    return ERROR_CODES.get(error.code, SYSTEM_ERROR)


def description(error: PmpError, *, ascii_only: bool = True) -> str:
    detail = clean(error.detail, 10_000, ascii_only=ascii_only) or "The request could not be processed"
    suffix = ""
    retry = error.retry_after
    if retry is not None and math.isfinite(retry) and retry >= 0:
        suffix = f"; retry after {min(math.ceil(retry), _MAX_RETRY_SECONDS)} s"
    return shorten(detail, DESCRIPTION_LENGTH - len(suffix)) + suffix


def encode_error(
    error: PmpError,
    *,
    header: MessageHeader | None,
    message_id: str,
    now: datetime,
    responder: str = DEFAULT_RESPONDER,
) -> bytes:
    """The ``Error`` message for ``error``, in ``header``'s version (10.6 without one)."""
    version = header.version if header is not None else V10_6
    text = fit(description(error, ascii_only=version == V10_6), DESCRIPTION_LENGTH, ascii_only=version == V10_6)
    body = f"<Error><Code>{error_code(error)}</Code><Description>{text}</Description></Error>"
    return message(version, body, request=header, message_id=message_id, now=now, responder=responder)


def encode_refusal(
    error: PmpError,
    *,
    query: RxHistoryQuery | None,
    header: MessageHeader | None = None,
    message_id: str,
    now: datetime,
    responder: str = DEFAULT_RESPONDER,
) -> bytes:
    """The reply to a request the pipeline refused: ``Denied`` for PATIENT_NOT_FOUND, PATIENT_AMBIGUOUS and
    FORBIDDEN once the request was decoded (``query``), else ``encode_error`` (``header`` defaults to the query's;
    pass ``read_header``'s when decoding failed)."""
    if query is not None and error.code in DENIED_CODES:
        if error.code == pb.ERROR_CODE_PATIENT_NOT_FOUND:
            reason = NO_DATA_TEXT
        elif error.code == pb.ERROR_CODE_PATIENT_AMBIGUOUS:
            reason = AMBIGUOUS_TEXT
        else:
            reason = clean(error.detail, 10_000, ascii_only=True) or FORBIDDEN_TEXT
        return encode_denied(query, reason, message_id=message_id, now=now)
    if header is None and query is not None:
        header = query.header
    return encode_error(error, header=header, message_id=message_id, now=now, responder=responder)
