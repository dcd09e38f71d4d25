"""The one error type of the project, carrying the one error vocabulary (``pmp.v1.ErrorCode``).

Policy steps, adapters (decoding) and the pmpdb client raise ``PmpError``; each route's adapter renders it in
its protocol — FHIR OperationOutcome, NCPDP Error, PMIX fault, ``application/problem+json`` — with the HTTP status
below. ``detail`` is shown to the client: it must never carry PHI or secrets.

::

    Exception
    └── PmpError(code, detail, location=(), retry_after=None)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeAlias

from protos.pmp.v1 import pmp_pb2 as pb

ErrorCode: TypeAlias = pb.ErrorCode.ValueType

HTTP_STATUS: dict[ErrorCode, int] = {
    pb.ERROR_CODE_INVALID_REQUEST: 400,
    pb.ERROR_CODE_UNSUPPORTED: 400,
    pb.ERROR_CODE_UNAUTHENTICATED: 401,
    pb.ERROR_CODE_FORBIDDEN: 403,
    pb.ERROR_CODE_NOT_REGISTERED: 403,
    pb.ERROR_CODE_SUSPENDED: 403,
    pb.ERROR_CODE_RATE_LIMITED: 429,
    pb.ERROR_CODE_PATIENT_NOT_FOUND: 404,
    pb.ERROR_CODE_PATIENT_AMBIGUOUS: 409,
    pb.ERROR_CODE_BACKEND_UNAVAILABLE: 503,
    pb.ERROR_CODE_TIMEOUT: 504,
    pb.ERROR_CODE_AUDIT_UNAVAILABLE: 503,
    pb.ERROR_CODE_PAYLOAD_TOO_LARGE: 413,
    pb.ERROR_CODE_INTERNAL: 500,
    pb.ERROR_CODE_NOT_ACCEPTABLE: 406,
    pb.ERROR_CODE_UNSUPPORTED_MEDIA_TYPE: 415,
    pb.ERROR_CODE_INSUFFICIENT_SCOPE: 403,
}


class PmpError(Exception):
    """A request that cannot be answered as asked, in the project's error vocabulary.

    ``location`` says where in the request the problem is, in the caller's protocol terms (a FHIR expression such
    as ``Parameters.parameter[0].resource.birthDate``, an XML path); ``retry_after`` (seconds) goes with
    RATE_LIMITED and BACKEND_UNAVAILABLE.
    """

    def __init__(
        self,
        code: ErrorCode,
        detail: str,
        *,
        location: Sequence[str] = (),
        retry_after: float | None = None,
    ) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.location = tuple(location)
        self.retry_after = retry_after

    @property
    def http_status(self) -> int:
        return HTTP_STATUS.get(self.code, 500)

    @property
    def code_name(self) -> str:
        """``invalid_request``, ``suspended``, … (the enum name without its prefix)."""
        return pb.ErrorCode.Name(self.code).removeprefix("ERROR_CODE_").lower()

    def __repr__(self) -> str:
        return f"PmpError({self.code_name}, {self.detail!r})"
