"""``pb.SearchHistoryRequest`` → ``pmix:PMPRequest``: our gateway asking a partner state that speaks PMIX.

The inverse of ``request.parse_request`` (the same elements; ``request``'s docstring draws them):

* ``pmix:RequestID`` ``request_id``; ``pmix:RequestingState`` us, ``pmix:DisclosingState`` them (USPS codes);
* ``pmix:Requester`` — the requester's name, NPI, DEA number and state licence (with its state);
  ``pmix:RequesterRole`` the role's text (``roles.ROLE_TEXTS``: "Prescriber", "Licensed Delegate", …) and
  ``pmix:RequesterRoleTaxonomyCode`` ``requester_taxonomy`` when there is one — the partner's policy decides by it;
  ``pmix:RequesterOrganization`` from ``requester.organization``: ``NCPDP:<id>``, ``NPI:<id>``, ``DEA:<id>`` as that
  identifier, anything else as the organization's name;
* ``pmp:RequestPatient`` — birth date, name, sex, address, telephone, and the first SSN, driver's licence (with its
  issuing state) and other identifier (with its type as ``nc:IdentificationCategoryText``);
* ``pmp:RequestPrescriptionDateRange`` the request's period, when it has one.

A partner can only match a person by demographics: a request without the patient's surname and full birth date
(e.g. one that names an earlier answer's patient id only) cannot be sent and is refused with INVALID_REQUEST, so
the fan-out can record that state's part as not asked. Routing values that are not usable (a request id with no
printable character, a state that is not a USPS code, a malformed taxonomy code) are the caller's mistakes:
ValueError.
"""

from __future__ import annotations

from typing import Final

from adapters.pmix._write import (
    contact,
    date_holder,
    identification,
    licence,
    person_name,
    practitioner,
    root_start,
    sex,
    state_holder,
    usps_state,
)
from adapters.pmix.codes import DEFAULT_EXCHANGE_NS, REQUEST_ROOT, TAXONOMY, exchange_namespace
from adapters.pmix.roles import role_text
from adapters.xml.write import clean, element, fit, iso_date
from protos.errors import PmpError
from protos.pmp.v1 import pmp_pb2 as pb

_ORGANIZATION_IDS: Final = {
    "NCPDP": "pmp:NCPDPIdentifier",
    "NPI": "pmp:NPIIdentifier",
    "DEA": "pmp:DEANumberIdentifier",
}
_NAMED_IDENTIFIERS: Final = frozenset({"SSN", "DL"})


def encode_request(
    request: pb.SearchHistoryRequest,
    *,
    request_id: str,
    requesting_state: str,
    disclosing_state: str,
    requester_taxonomy: str,
    exchange_ns: str = DEFAULT_EXCHANGE_NS,
) -> bytes:
    """The ``pmix:PMPRequest`` asking ``disclosing_state`` for ``request``, as UTF-8 bytes with a declaration."""
    namespace = exchange_namespace(exchange_ns)
    identifier = fit(request_id, 100)
    requesting, disclosing = usps_state(requesting_state), usps_state(disclosing_state)
    taxonomy = requester_taxonomy.strip().upper()
    if not identifier:
        raise ValueError("a PMIX request needs a request id")
    if not requesting or not disclosing:
        raise ValueError("the requesting and disclosing states must be USPS state codes")
    if taxonomy and not TAXONOMY.fullmatch(taxonomy):
        raise ValueError("the requester's taxonomy code is not a NUCC code")
    requester = request.requester
    return "".join(
        (
            root_start(REQUEST_ROOT, namespace),
            f"<pmix:RequestID>{identifier}</pmix:RequestID>",
            state_holder("pmix:RequestingState", requesting),
            state_holder("pmix:DisclosingState", disclosing),
            f"<pmix:Requester>{practitioner(requester.practitioner)}</pmix:Requester>",
            f"<pmix:RequesterRole>{role_text(requester.role)}</pmix:RequesterRole>",
            element("pmix:RequesterRoleTaxonomyCode", taxonomy),
            _organization(requester.organization),
            _patient(request.patient),
            _period(request.date_range),
            f"</pmix:{REQUEST_ROOT}>",
        )
    ).encode("utf-8")


def _organization(organization: str) -> str:
    kind, colon, value = organization.partition(":")
    tag = _ORGANIZATION_IDS.get(kind) if colon else None
    if tag is not None and clean(value, 50):
        content = identification(tag, value)
    else:
        content = element("nc:OrganizationDoingBusinessAsName", fit(organization, 100))
    return element("pmix:RequesterOrganization", content)


def _patient(patient: pb.PatientQuery) -> str:
    name = person_name(patient.name)
    born = iso_date(patient.birth_date)
    if not name or not born:
        raise PmpError(
            pb.ERROR_CODE_INVALID_REQUEST,
            "A partner state can only be asked with the patient's surname and full birth date",
        )
    parts: dict[str, str] = {}  # the first identifier of each kind
    for ident in patient.identifiers:
        kind = ident.type.upper() if ident.type.upper() in _NAMED_IDENTIFIERS else "OTHER"
        if kind in parts or not clean(ident.value, 50):
            continue
        if kind == "SSN":
            parts[kind] = identification("nc:PersonSSNIdentification", ident.value)
        elif kind == "DL":
            parts[kind] = licence("pmp:PersonDriverLicenseIdentifier", ident.value, ident.issuer)
        else:
            category = element("nc:IdentificationCategoryText", fit(ident.type, 30))
            parts[kind] = (
                f"<pmp:PersonOtherIdentifier><nc:IdentificationID>{fit(ident.value, 50)}</nc:IdentificationID>"
                f"{category}</pmp:PersonOtherIdentifier>"
            )
    return "".join(
        (
            "<pmp:RequestPatient>",
            date_holder("nc:PersonBirthDate", born),
            name,
            sex(patient.gender),
            parts.get("SSN", ""),
            parts.get("DL", ""),
            parts.get("OTHER", ""),
            contact("pmp:PersonPrimaryContactInformation", patient.address, patient.phone),
            "</pmp:RequestPatient>",
        )
    )


def _period(period: pb.DateRange) -> str:
    begin = date_holder("pmp:RequestPrescriptionDateRangeBegin", iso_date(period.start))
    end = date_holder("pmp:RequestPrescriptionDateRangeEnd", iso_date(period.end))
    return element("pmp:RequestPrescriptionDateRange", begin + end)
