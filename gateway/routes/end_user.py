"""The end user of a request that has no body to name them in (FHIR search): the ``X-PMP-End-User`` header.

``$pdmp-history`` and NCPDP messages name the end user inside the message; a ``GET /fhir/MedicationDispense``
cannot, so the EHR states them in one header of ``key=value`` pairs separated by ``;``::

    X-PMP-End-User: role=prescriber; npi=1234567893
    X-PMP-End-User: role=unlicensed-delegate; npi=…; on-behalf-of-npi=1234567893
    X-PMP-End-User: role=law-enforcement; license=B-123; case-number=2026-0042

Keys: ``role``, ``npi``, ``dea``, ``license``, ``license-state``, ``on-behalf-of-npi``, ``on-behalf-of-dea``,
``purpose`` (treatment | dispensing | investigation | regulatory), ``case-number``. The identify stage (issue 5)
checks the named user against the registry, exactly as for the in-message forms.
"""

from __future__ import annotations

from protos.errors import PmpError
from protos.pmp.v1 import pmp_pb2 as pb

HEADER = "X-PMP-End-User"

ROLES = {
    "prescriber": pb.ROLE_PRESCRIBER,
    "pharmacist": pb.ROLE_PHARMACIST,
    "licensed-delegate": pb.ROLE_LICENSED_DELEGATE,
    "unlicensed-delegate": pb.ROLE_UNLICENSED_DELEGATE,
    "law-enforcement": pb.ROLE_LAW_ENFORCEMENT,
    "regulator": pb.ROLE_REGULATOR,
}
PURPOSES = {
    "treatment": pb.PURPOSE_TREATMENT,
    "dispensing": pb.PURPOSE_DISPENSING,
    "investigation": pb.PURPOSE_INVESTIGATION,
    "regulatory": pb.PURPOSE_REGULATORY,
}
_KEYS = frozenset(
    {"role", "npi", "dea", "license", "license-state", "on-behalf-of-npi", "on-behalf-of-dea", "purpose", "case-number"}
)
_MAX_LENGTH = 512


def _invalid(detail: str) -> PmpError:
    return PmpError(pb.ERROR_CODE_INVALID_REQUEST, detail, location=(HEADER,))


def parse_end_user(header: str) -> pb.Requester:
    """The requester the header names; INVALID_REQUEST for a header that cannot be read (values never echoed)."""
    if len(header) > _MAX_LENGTH:
        raise _invalid(f"{HEADER} is too long")
    if not header.isascii() or not header.isprintable():
        raise _invalid(f"{HEADER} must be printable ASCII")
    fields: dict[str, str] = {}
    for part in header.split(";"):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        key = key.strip().lower()
        if not sep or key not in _KEYS:
            raise _invalid(f"{HEADER} has an unknown or malformed entry")
        fields[key] = value.strip()
    requester = pb.Requester(
        practitioner=pb.Practitioner(
            npi=fields.get("npi", ""),
            dea=fields.get("dea", ""),
            state_license=fields.get("license", ""),
            license_state=fields.get("license-state", ""),
        ),
        case_number=fields.get("case-number", ""),
    )
    if "role" in fields:
        role = ROLES.get(fields["role"].lower())
        if role is None:
            raise _invalid(f"{HEADER} names an unknown role")
        requester.role = role
    if "purpose" in fields:
        purpose = PURPOSES.get(fields["purpose"].lower())
        if purpose is None:
            raise _invalid(f"{HEADER} names an unknown purpose")
        requester.purpose = purpose
    if "on-behalf-of-npi" in fields or "on-behalf-of-dea" in fields:
        requester.on_behalf_of.CopyFrom(
            pb.Practitioner(npi=fields.get("on-behalf-of-npi", ""), dea=fields.get("on-behalf-of-dea", ""))
        )
    return requester
