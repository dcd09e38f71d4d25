"""``pmix:PMPRequest`` (a partner state's hub asking us) → ``PmixQuery`` around a ``pb.SearchHistoryRequest``.

The request, as the project's schema has it (``schema/pmix-exchange.xsd``; children in any order)::

    pmix:PMPRequest
      pmix:RequestID                       echoed in the report
      pmix:RequestingState/nc:LocationStateUSPostalServiceCode     the state whose user asks (USPS code)
      pmix:DisclosingState/nc:LocationStateUSPostalServiceCode     the state asked (optional)
      pmix:Requester/{nc:PersonName, pmp:NPIIdentifier, pmp:DEANumberIdentifier, pmp:StateLicenseIdentifier}
      pmix:RequesterRole                   the role as the requesting state words it (or a taxonomy code)
      pmix:RequesterRoleTaxonomyCode       the requester's NUCC taxonomy code (optional)
      pmix:RequesterOrganization/{nc:OrganizationDoingBusinessAsName, pmp:NCPDPIdentifier, pmp:NPIIdentifier,
                                  pmp:DEANumberIdentifier}          (optional)
      pmp:RequestPatient/{nc:PersonBirthDate/nc:Date, nc:PersonName, j:PersonSexCode, nc:PersonSSNIdentification,
                          pmp:PersonDriverLicenseIdentifier, pmp:PersonOtherIdentifier,
                          pmp:PersonPrimaryContactInformation/{nc:ContactMailingAddress, nc:ContactTelephoneNumber}}
      pmp:RequestPrescriptionDateRange/{pmp:RequestPrescriptionDateRangeBegin, …End}/nc:Date     (optional)

Decoding: the hardened parse (``parser``), the root (``pmix:PMPRequest`` in the configured exchange namespace; a
``pmix:PMPPrescriptionReport`` is UNSUPPORTED here), schema validation (``validation``), then meaning:

* **who asks** — ``requester.role`` from the role text and taxonomy code (``roles``: the actual clinical role, not
  "partner state"); ``practitioner`` the requester's name, NPI, DEA number and state licence (with its state);
  ``organization`` the requesting organization's name, else ``NCPDP:<id>``, ``NPI:<id>``, ``DEA:<id>`` (as the
  NCPDP codec); ``state`` the requesting state. The requester must be named or identified. Purpose, case number
  and a delegate's supervisor have no element: the gateway's policy works from the role.
* **whom** — surname and a full, past birth date are required (pmpdb's own minimum); given, middle name, prefix,
  suffix, sex, address, telephone and identifiers (SSN → ``SSN``, driver's licence → ``DL`` with its state as
  ``issuer``, other → its ``nc:IdentificationCategoryText`` or ``OTHER``) when sent.
* **the period** — a missing end is today, a missing start ``default_lookback_days`` before the end; refused: a
  start after the end, a span over ``max_lookback_days``, a date in the future — with one day of grace (the
  sender's calendar may be a day ahead; such a date is read as today). The NCPDP codec's rule, from the same code
  (``adapters.period``).
* ``states`` is ``["NONE"]``: a request from a partner hub asks this state only (loop protection, which the gateway
  also enforces); ``page_size`` stays 0 (the server's default).

Requesting and disclosing states must be USPS codes of a state or territory. Every refusal is a ``PmpError``
(INVALID_REQUEST, UNSUPPORTED, PAYLOAD_TOO_LARGE) with a place and no value from the request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Final

from adapters.period import period_day, report_period
from adapters.pmix._read import (
    Node,
    date_of,
    error_at,
    identification,
    jurisdiction,
    read_contact,
    read_name,
    state_code,
)
from adapters.pmix.codes import (
    DEFAULT_EXCHANGE_NS,
    GENDER_IN,
    NC,
    PMP,
    REPORT_ROOT,
    REQUEST_ROOT,
    USPS_STATES,
    J,
    exchange_namespace,
)
from adapters.pmix.parser import REQUEST_LIMITS, parse_document
from adapters.pmix.roles import requester_role, taxonomy_code
from adapters.pmix.validation import schema_problem
from adapters.xml._lxml import Element, etree
from adapters.xml.safe import refuse
from protos.errors import PmpError
from protos.pmp.v1 import pmp_pb2 as pb

THIS_STATE_ONLY: Final = "NONE"  # pb.SearchHistoryRequest.states: this state only
_ORGANIZATION_IDS: Final = (("NCPDPIdentifier", "NCPDP"), ("NPIIdentifier", "NPI"), ("DEANumberIdentifier", "DEA"))


@dataclass(slots=True)
class PmixQuery:
    """A decoded PMIX request: the search, and what the report and the gateway's interstate checks need."""

    request: pb.SearchHistoryRequest
    request_id: str  # pmix:RequestID, echoed in the report
    requesting_state: str  # USPS code, upper case
    disclosing_state: str  # the state asked; "" when the request does not say
    requester_taxonomy: str  # NUCC taxonomy code; "" when absent
    requester_role_text: str  # pmix:RequesterRole as sent


def parse_request(
    body: bytes,
    *,
    exchange_ns: str = DEFAULT_EXCHANGE_NS,
    today: date,
    default_lookback_days: int,
    max_lookback_days: int,
) -> PmixQuery:
    """The query a ``pmix:PMPRequest`` body asks. Raises only ``PmpError`` for anything in the body (ValueError for
    an unusable ``exchange_ns``, a configuration error)."""
    namespace = exchange_namespace(exchange_ns)
    root = parse_document(body, limits=REQUEST_LIMITS)
    return decode_request(
        root,
        exchange_ns=namespace,
        today=today,
        default_lookback_days=default_lookback_days,
        max_lookback_days=max_lookback_days,
    )


def read_request_id(body: bytes, *, exchange_ns: str = DEFAULT_EXCHANGE_NS) -> str:
    """The ``pmix:RequestID`` of a body that could not be decoded, so that its refusal can still echo it; "" when
    the body is not a parseable PMIX request or the id is not plain text. Never raises for the body."""
    namespace = exchange_namespace(exchange_ns)
    try:
        root = parse_document(body, limits=REQUEST_LIMITS)
    except PmpError:
        return ""
    tag = "{" + namespace + "}"
    if root.tag != tag + REQUEST_ROOT:
        return ""
    found = root.find(tag + "RequestID")
    text = (found.text or "").strip() if found is not None and not len(found) else ""
    return text if text.isprintable() and len(text) <= 100 else ""


def decode_request(
    root: Element,
    *,
    exchange_ns: str,
    today: date,
    default_lookback_days: int,
    max_lookback_days: int,
) -> PmixQuery:
    """``parse_request`` after the parse: ``root`` from ``parser.parse_document``."""
    _check_root(root, exchange_ns)
    problem = schema_problem(root, exchange_ns)
    if problem is not None:
        raise problem
    x = "{" + exchange_ns + "}"
    message = Node(root)
    requesting = _state(message.need(x + "RequestingState"))
    disclosing_at = message.get(x + "DisclosingState")
    role_text = message.text_of(x + "RequesterRole")
    taxonomy = taxonomy_code(role_text, message.text_of(x + "RequesterRoleTaxonomyCode"))
    request = pb.SearchHistoryRequest(
        patient=_patient(message.need(PMP + "RequestPatient"), today),
        requester=_requester(message, x, requester_role(role_text, taxonomy), requesting),
        date_range=_period(
            message,
            today=today,
            default_lookback_days=default_lookback_days,
            max_lookback_days=max_lookback_days,
        ),
        states=[THIS_STATE_ONLY],
    )
    return PmixQuery(
        request=request,
        request_id=message.text_of(x + "RequestID"),
        requesting_state=requesting,
        disclosing_state=_state(disclosing_at) if disclosing_at is not None else "",
        requester_taxonomy=taxonomy,
        requester_role_text=role_text,
    )


def _check_root(root: Element, exchange_ns: str) -> None:
    tag = root.tag if isinstance(root.tag, str) else ""
    x = "{" + exchange_ns + "}"
    if tag == x + REQUEST_ROOT:
        return
    if tag == x + REPORT_ROOT:
        raise PmpError(
            pb.ERROR_CODE_UNSUPPORTED,
            "pmix:PMPPrescriptionReport is a report, not a request: send pmix:PMPRequest",
            location=("/pmix:PMPPrescriptionReport",),
        )
    if etree.QName(root).namespace != exchange_ns:
        raise refuse("/", f"The root element is not in the PMIX exchange namespace {exchange_ns}")
    raise refuse("/", "The root element must be pmix:PMPRequest")


def _state(holder: Node) -> str:
    code = state_code(holder)
    if code not in USPS_STATES:
        raise error_at(holder.need(NC + "LocationStateUSPostalServiceCode").element, "is not a USPS state code")
    return code


# --- who asks --------------------------------------------------------------------------------------------------


def _requester(message: Node, x: str, role: pb.Role.ValueType, requesting_state: str) -> pb.Requester:
    person = message.need(x + "Requester")
    practitioner = pb.Practitioner()
    read_name(person.get(NC + "PersonName"), practitioner.name)
    practitioner.npi = identification(person.get(PMP + "NPIIdentifier"))
    practitioner.dea = identification(person.get(PMP + "DEANumberIdentifier"))
    licence = person.get(PMP + "StateLicenseIdentifier")
    practitioner.state_license = identification(licence)
    practitioner.license_state = jurisdiction(licence)
    if not (practitioner.name.family or practitioner.npi or practitioner.dea or practitioner.state_license):
        raise person.error("names nobody: give nc:PersonName or an NPI, DEA or state licence identifier")
    return pb.Requester(
        role=role,
        practitioner=practitioner,
        organization=_organization(message.get(x + "RequesterOrganization")),
        state=requesting_state,
    )


def _organization(holder: Node | None) -> str:
    if holder is None:
        return ""
    name = holder.text_of(NC + "OrganizationDoingBusinessAsName")
    if name:
        return name
    for element_name, kind in _ORGANIZATION_IDS:
        value = identification(holder.get(PMP + element_name))
        if value:
            return f"{kind}:{value}"
    return ""


# --- whom ------------------------------------------------------------------------------------------------------


def _patient(patient: Node, today: date) -> pb.PatientQuery:
    query = pb.PatientQuery()
    born_at = patient.need(NC + "PersonBirthDate")
    born = date_of(born_at)
    if born > today:
        raise born_at.error("is in the future")
    query.birth_date = born.isoformat()
    read_name(patient.need(NC + "PersonName"), query.name)
    sex = patient.text_of(J + "PersonSexCode")
    if sex:
        query.gender = GENDER_IN[sex]
    query.phone = read_contact(patient.get(PMP + "PersonPrimaryContactInformation"), query.address)
    ssn = identification(patient.get(NC + "PersonSSNIdentification"))
    if ssn:
        query.identifiers.add(type="SSN", value=ssn)
    licence = patient.get(PMP + "PersonDriverLicenseIdentifier")
    if licence is not None:
        query.identifiers.add(type="DL", value=identification(licence), issuer=jurisdiction(licence))
    other = patient.get(PMP + "PersonOtherIdentifier")
    if other is not None:
        kind = other.text_of(NC + "IdentificationCategoryText").upper() or "OTHER"
        query.identifiers.add(type=kind, value=identification(other))
    return query


# --- the period ------------------------------------------------------------------------------------------------


def _period(
    message: Node,
    *,
    today: date,
    default_lookback_days: int,
    max_lookback_days: int,
) -> pb.DateRange:
    span = message.get(PMP + "RequestPrescriptionDateRange")
    start = end = None
    if span is not None:
        start_at = span.get(PMP + "RequestPrescriptionDateRangeBegin")
        end_at = span.get(PMP + "RequestPrescriptionDateRangeEnd")
        if start_at is not None:
            start = period_day(date_of(start_at), start_at, today=today)
        if end_at is not None:
            end = period_day(date_of(end_at), end_at, today=today)
    return report_period(
        start,
        end,
        today=today,
        default_lookback_days=default_lookback_days,
        max_lookback_days=max_lookback_days,
        at=span if span is not None else message,
        too_long="spans more than the {days} days allowed: narrow it",
    )
