"""A partner's ``pmix:PMPPrescriptionReport`` → ``PmixReport``: what a partner state that speaks PMIX answered us.

The inverse of ``report.encode_report`` (its docstring draws the report): the same hardened parse (with the
report's larger limits) and the same schema, then every element the report carries back into the vocabulary —
status, text and retry time; the matched person; each ``pmp:Prescription`` as a ``pb.Dispensation``; alerts;
per-state outcomes (a partner that is itself a hub may report several states).

Each dispensation's ``source_state`` is its ``pmix:PrescriptionSourceState``, else ``disclosing_state`` (the state
we asked). ``pmp:DrugNDCProductIdentifier`` sets ``ndc`` (and ``drug.ndc``) with ``product_id_qualifier`` 01;
``pmp:DrugUnitOfMeasureText`` each / mL / g becomes ``quantity_unit`` 01 / 02 / 03 (another text is kept as
sent); ``pmp:PartialFillIndicator`` true / false becomes ``partial_fill`` 01 / 00. The augmentation point may repeat,
so of two source states or sold dates the first is read. What a report does not carry
stays empty: the dispensation and patient ids (the partner's record ids mean nothing here), MME/LME, the drug's
schedule and class.

A report is the partner's word, not the caller's: anything malformed — not XML, hostile, another root, another
exchange namespace, invalid against the schema, an impossible date — is ``PmpError(BACKEND_UNAVAILABLE, "partner
sent an invalid report")`` with the place (never a value) as its ``location``, so the fan-out treats it as that
partner failing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from adapters.pmix._read import (
    Node,
    date_of,
    identification,
    iso_day,
    jurisdiction,
    read_contact,
    read_name,
    state_code,
)
from adapters.pmix._write import usps_state
from adapters.pmix.codes import (
    DEFAULT_EXCHANGE_NS,
    GENDER_IN,
    NC,
    NDC_QUALIFIER,
    PARTIAL,
    PMP,
    REPORT_ROOT,
    UNIT_CODES,
    J,
    exchange_namespace,
)
from adapters.pmix.parser import REPORT_LIMITS, parse_document
from adapters.pmix.validation import schema_problem
from adapters.xml._lxml import Element
from adapters.xml.safe import refuse
from protos.errors import PmpError
from protos.pmp.v1 import pmp_pb2 as pb

INVALID_REPORT: Final = "partner sent an invalid report"
_TRUE: Final = frozenset({"true", "1"})
_INT32_MAX: Final = 2**31 - 1


@dataclass(slots=True)
class PmixReport:
    """A partner's report, decoded."""

    request_id: str
    status: str  # PMIXStatusCode
    message: str  # pmix:ResponseStatusText ("" when absent)
    dispensations: list[pb.Dispensation]
    patient: pb.MatchedPatient | None
    alerts: list[pb.Alert]
    sources: list[pb.SourceOutcome] = field(default_factory=list)  # per-state outcomes the partner reported
    retry_after: float | None = None  # pmix:RetryAfterSeconds


def decode_report(body: bytes, *, exchange_ns: str = DEFAULT_EXCHANGE_NS, disclosing_state: str) -> PmixReport:
    """The report in ``body``. Raises only ``PmpError(BACKEND_UNAVAILABLE)`` for anything in the body (ValueError
    for an unusable ``exchange_ns``, a configuration error)."""
    namespace = exchange_namespace(exchange_ns)
    try:
        root = parse_document(body, limits=REPORT_LIMITS)
        if root.tag != "{" + namespace + "}" + REPORT_ROOT:
            raise refuse("/", "The root element is not pmix:PMPPrescriptionReport in the exchange namespace")
        problem = schema_problem(root, namespace)
        if problem is not None:
            raise problem
        return _report(root, namespace, usps_state(disclosing_state))
    except PmpError as error:
        raise PmpError(pb.ERROR_CODE_BACKEND_UNAVAILABLE, INVALID_REPORT, location=error.location) from None


def _report(root: Element, namespace: str, disclosing_state: str) -> PmixReport:
    x = "{" + namespace + "}"
    report = Node(root)
    status = report.need(x + "ResponseStatus")
    retry = status.text_of(x + "RetryAfterSeconds")
    content = report.need(PMP + "RequestResponsePrescriptionReport")
    patient = content.get(PMP + "Patient")
    return PmixReport(
        request_id=report.text_of(x + "RequestID"),
        status=status.text_of(x + "ResponseStatusCode"),
        message=status.text_of(x + "ResponseStatusText"),
        dispensations=[_dispensation(node, x, disclosing_state) for node in content.all(PMP + "Prescription")],
        patient=_matched(patient) if patient is not None else None,
        alerts=[_alert(node, x) for node in report.all(x + "PatientAlert")],
        sources=[_source(node, x) for node in report.all(x + "SourceOutcome")],
        retry_after=float(int(retry)) if retry else None,
    )


def _matched(patient: Node) -> pb.MatchedPatient:
    out = pb.MatchedPatient()
    read_name(patient.get(NC + "PersonName"), out.name)
    out.birth_date = iso_day(patient.get(NC + "PersonBirthDate"))
    out.gender = _gender(patient)
    read_contact(patient.get(PMP + "PersonPrimaryContactInformation"), out.address)
    return out


def _gender(person: Node) -> pb.Gender.ValueType:
    return GENDER_IN.get(person.text_of(J + "PersonSexCode"), pb.GENDER_UNSPECIFIED)


def _dispensation(node: Node, x: str, disclosing_state: str) -> pb.Dispensation:
    d = pb.Dispensation()
    patient = node.get(PMP + "Patient")
    if patient is not None:
        read_name(patient.get(NC + "PersonName"), d.patient_name)
        d.patient_birth_date = iso_day(patient.get(NC + "PersonBirthDate"))
        d.patient_gender = _gender(patient)
        read_contact(patient.get(PMP + "PersonPrimaryContactInformation"), d.patient_address)
    dispenser = node.get(PMP + "Dispenser")
    if dispenser is not None:
        _pharmacy(dispenser, d.pharmacy)
    prescriber = node.get(PMP + "Prescriber")
    if prescriber is not None:
        _practitioner(prescriber, d.prescriber)
    d.date_filled = date_of(node.need(PMP + "PrescriptionFilledDate")).isoformat()
    d.date_written = iso_day(node.get(PMP + "PrescriptionWrittenDate"))
    d.rx_number = node.text_of(PMP + "PrescriptionNumberText")
    drug = node.get(PMP + "PrescriptionDrug")
    if drug is not None:
        _drug(drug, d)
    quantity = node.text_of(PMP + "DispensedQuantity")
    if quantity:
        d.quantity = float(quantity)
    d.days_supply = _int(node.text_of(PMP + "DaysSupplyCount"))
    d.refill_number = _int(node.text_of(PMP + "DrugRefillNumberCount"))
    d.refills_authorized = _int(node.text_of(PMP + "RefillsAuthorizedCount"))
    partial = node.text_of(PMP + "PartialFillIndicator")
    if partial:
        d.partial_fill = PARTIAL if partial in _TRUE else "00"
    d.payment_type = node.text_of(PMP + "MethodOfPaymentCode")
    d.transmission_form = node.text_of(PMP + "TransmissionFormOfRxOriginCode")
    d.source_state = state_code(node.get(x + "PrescriptionSourceState")) or disclosing_state
    d.date_sold = iso_day(node.get(x + "PrescriptionSoldDate"))
    return d


def _int(text: str) -> int:
    return min(int(text), _INT32_MAX) if text else 0


def _pharmacy(dispenser: Node, out: pb.Pharmacy) -> None:
    out.name = dispenser.text_of(NC + "OrganizationDoingBusinessAsName")
    out.phone = read_contact(dispenser.get(NC + "OrganizationPrimaryContactInformation"), out.address)
    out.dea = identification(dispenser.get(PMP + "DEANumberIdentifier"))
    out.ncpdp = identification(dispenser.get(PMP + "NCPDPIdentifier"))
    out.npi = identification(dispenser.get(PMP + "NPIIdentifier"))


def _practitioner(person: Node, out: pb.Practitioner) -> None:
    read_name(person.get(NC + "PersonName"), out.name)
    out.npi = identification(person.get(PMP + "NPIIdentifier"))
    out.dea = identification(person.get(PMP + "DEANumberIdentifier"))
    licence = person.get(PMP + "StateLicenseIdentifier")
    out.state_license = identification(licence)
    out.license_state = jurisdiction(licence)


def _drug(drug: Node, d: pb.Dispensation) -> None:
    ndc = identification(drug.get(PMP + "DrugNDCProductIdentifier"))
    name = drug.text_of(PMP + "DrugProductNameText")
    strength = drug.text_of(PMP + "DrugStrengthText")
    unit = drug.text_of(PMP + "DrugUnitOfMeasureText")
    if ndc:
        d.ndc = ndc
        d.product_id_qualifier = NDC_QUALIFIER
    if name or strength:
        d.drug.CopyFrom(pb.Drug(ndc=ndc, name=name, strength=strength))
    if unit:
        d.quantity_unit = UNIT_CODES.get(unit.lower(), unit)


def _alert(node: Node, x: str) -> pb.Alert:
    alert = pb.Alert(code=node.text_of(x + "PatientAlertCategoryCode"), text=node.text_of(x + "PatientAlertText"))
    value = node.text_of(x + "PatientAlertValue")
    threshold = node.text_of(x + "PatientAlertThresholdValue")
    alert.value = float(value) if value else 0.0
    alert.threshold = float(threshold) if threshold else 0.0
    period = node.get(x + "PatientAlertDateRange")
    if period is not None:
        alert.period.start = iso_day(period.get(NC + "StartDate"))
        alert.period.end = iso_day(period.get(NC + "EndDate"))
    return alert


def _source(node: Node, x: str) -> pb.SourceOutcome:
    return pb.SourceOutcome(
        state=node.text_of(NC + "LocationStateUSPostalServiceCode"),
        status=node.text_of(x + "ResponseStatusCode"),
        detail=node.text_of(x + "ResponseStatusText"),
        dispensations=_int(node.text_of(x + "PrescriptionCount")),
    )
