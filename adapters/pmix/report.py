"""``pb.SearchHistoryResponse`` → ``pmix:PMPPrescriptionReport`` (our answer to a partner state's request).

The report, in the order written (``schema/pmix-exchange.xsd``, ``schema/pmp-extension.xsd``)::

    pmix:PMPPrescriptionReport
      pmix:RequestID                    the request's, echoed
      pmix:RequestingState, pmix:DisclosingState     (nc:LocationStateUSPostalServiceCode each)
      pmix:ResponseStatus/{pmix:ResponseStatusCode, pmix:ResponseStatusText, pmix:RetryAfterSeconds}
      pmp:RequestResponsePrescriptionReport
        pmp:ReportExecutionDate/nc:Date, pmp:ReportExecutionTime (UTC)
        pmp:ReportDateRange/{pmp:ReportDateRangeBegin, pmp:ReportDateRangeEnd}/nc:Date     the searched period
        pmp:Patient                     the matched person (never with no-data or deferred)
        pmp:Prescription*               one per dispensation, newest first (below)
      pmix:PatientAlert*                PMIXPatientAlertCatCode 03 / 04 / 05 with text, value, threshold, period
      pmix:SourceOutcome*               per state asked: state, status, detail, prescription count

**Status** (PMIXStatusCode): an ambiguous match is ``deferred`` (no candidate described, no prescription); a
match with dispensations is ``complete`` — or ``error`` when a state of ``answer.sources`` did not answer
(any status but complete / no-data: a partial answer, as the IG's example 6, never a silent gap); no dispensation
is ``no-data`` — the same text whether the person is unknown or has no fill in the period, so the report does not
reveal which — or ``error`` when a state did not answer. The status text says how many dispensations are
included, how many the period holds when the answer is cut, and which states did not answer.

**pmp:Prescription** (standards.md §3 names): ``pmp:Patient`` (the patient as reported: birth date, name, sex,
address), ``pmp:Dispenser`` (``nc:OrganizationDoingBusinessAsName``, ``nc:OrganizationPrimaryContactInformation``
with address and telephone, DEA, NCPDP and NPI identifiers), ``pmp:Prescriber`` (``nc:PersonName``, DEA, NPI,
state licence with its state), ``pmp:PrescriptionFilledDate``, ``pmp:PrescriptionWrittenDate``,
``pmp:PrescriptionNumberText``, ``pmp:PrescriptionDrug`` (``pmp:DrugProductNameText``,
``pmp:DrugNDCProductIdentifier`` for an NDC product, ``pmp:DrugStrengthText``, ``pmp:DrugUnitOfMeasureText`` = the
dispensed quantity's unit: each, mL, g), ``pmp:DispensedQuantity``, ``pmp:DaysSupplyCount``,
``pmp:DrugRefillNumberCount`` (0 = original fill), ``pmp:RefillsAuthorizedCount``, ``pmp:PartialFillIndicator``
(true unless ASAP DSP13 says 00), ``pmp:MethodOfPaymentCode``, ``pmp:TransmissionFormOfRxOriginCode``; then, as
augmentations (the IG names no element for them), ``pmix:PrescriptionSourceState`` — the state the dispensation
was reported to, the disclosing state when the dispensation does not say — and ``pmix:PrescriptionSoldDate``.
A dispensation without a fill date cannot be written (the schema requires one) and is counted as not included.
Not carried: MME/LME, the drug's schedule and class, the pharmacist, RxNorm, the record ids.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Final

from adapters.pmix._write import (
    contact,
    date_holder,
    decimal_text,
    identification,
    person_name,
    practitioner,
    root_start,
    sex,
    state_holder,
    usps_state,
)
from adapters.pmix.codes import (
    ALERT_CODES,
    ANSWERED,
    COMPLETE,
    DEFAULT_EXCHANGE_NS,
    DEFERRED,
    ERROR,
    NDC_PRODUCT_QUALIFIERS,
    NO_DATA,
    NOT_PARTIAL,
    PAYMENT_CODES,
    REPORT_ROOT,
    STATUSES,
    TRANSMISSION_CODES,
    UNIT_TEXTS,
    exchange_namespace,
)
from adapters.pmix.request import PmixQuery
from adapters.xml.write import element, fit, iso_date
from protos.pmp.v1 import pmp_pb2 as pb

STATUS_TEXT_LENGTH: Final = 500
MAX_RETRY_SECONDS: Final = 10_000_000
NO_DATA_TEXT: Final = "No PMP history was found for the submitted patient in the requested period"
AMBIGUOUS_TEXT: Final = (
    "More than one person in the PMP matches the submitted patient; the request needs a manual review by the PMP. "
    "An identifier (e.g. a driver's licence), the full address or the telephone number may allow a match."
)
_END: Final = "</pmp:RequestResponsePrescriptionReport>"


def encode_report(
    answer: pb.SearchHistoryResponse,
    *,
    query: PmixQuery,
    disclosing_state: str,
    now: datetime,
    exchange_ns: str = DEFAULT_EXCHANGE_NS,
) -> bytes:
    """The report answering ``query``, as UTF-8 bytes with an XML declaration."""
    namespace = exchange_namespace(exchange_ns)
    gaps = gap_states(answer.sources)
    ambiguous = answer.match_status == pb.MATCH_STATUS_AMBIGUOUS
    with_data = not ambiguous and bool(answer.dispensations or answer.total_dispensations)
    prescriptions = _Prescriptions(usps_state(disclosing_state))
    if with_data:
        for dispensation in answer.dispensations:
            prescriptions.add(dispensation)
    if ambiguous:
        status, text = DEFERRED, AMBIGUOUS_TEXT
    elif with_data:
        total = max(answer.total_dispensations, len(answer.dispensations))
        status = ERROR if gaps else COMPLETE
        text = _joined(_included(prescriptions.count, total), _partial(gaps))
    else:
        status = ERROR if gaps else NO_DATA
        text = _joined("No PMP history was found in the states that answered", _partial(gaps)) if gaps else NO_DATA_TEXT
    matched = answer.patients[0] if with_data and answer.patients else None
    parts = [
        report_start(
            namespace,
            request_id=query.request_id,
            requesting_state=query.requesting_state,
            disclosing_state=disclosing_state,
            status=status,
            text=text,
        ),
        report_header(now, query.request.date_range),
        _patient(matched.name, matched.birth_date, matched.gender, matched.address) if matched is not None else "",
        *prescriptions.parts,
        _END,
        *(_alert(alert) for alert in (answer.alerts if with_data else ())),
        *(_source(source) for source in answer.sources),
        f"</pmix:{REPORT_ROOT}>",
    ]
    return "".join(parts).encode("utf-8")


def gap_states(sources: Iterable[pb.SourceOutcome]) -> list[pb.SourceOutcome]:
    """The states of a merged answer that did not answer (status other than complete / no-data)."""
    return [source for source in sources if source.status not in ANSWERED]


# --- the parts every report has --------------------------------------------------------------------------------


def report_start(
    namespace: str,
    *,
    request_id: str,
    requesting_state: str,
    disclosing_state: str,
    status: str,
    text: str,
    retry_after: float | None = None,
) -> str:
    """The root's start, ``pmix:RequestID``, the routing states and ``pmix:ResponseStatus``."""
    retry = ""
    if retry_after is not None and math.isfinite(retry_after) and retry_after >= 0:
        retry = str(min(math.ceil(retry_after), MAX_RETRY_SECONDS))
    return "".join(
        (
            root_start(REPORT_ROOT, namespace),
            element("pmix:RequestID", fit(request_id, 100)),
            state_holder("pmix:RequestingState", usps_state(requesting_state)),
            state_holder("pmix:DisclosingState", usps_state(disclosing_state)),
            f"<pmix:ResponseStatus><pmix:ResponseStatusCode>{status}</pmix:ResponseStatusCode>",
            element("pmix:ResponseStatusText", fit(text, STATUS_TEXT_LENGTH)),
            element("pmix:RetryAfterSeconds", retry),
            "</pmix:ResponseStatus>",
        )
    )


def report_header(now: datetime, period: pb.DateRange | None) -> str:
    """``pmp:RequestResponsePrescriptionReport``'s start: execution date and time (UTC) and the searched period."""
    moment = now.astimezone(UTC) if now.tzinfo is not None else now.replace(tzinfo=UTC)
    begin = iso_date(period.start) if period is not None else ""
    end = iso_date(period.end) if period is not None else ""
    span = (
        f"<pmp:ReportDateRange>{date_holder('pmp:ReportDateRangeBegin', begin)}"
        f"{date_holder('pmp:ReportDateRangeEnd', end)}</pmp:ReportDateRange>"
        if begin and end
        else ""
    )
    return (
        "<pmp:RequestResponsePrescriptionReport>"
        f"{date_holder('pmp:ReportExecutionDate', moment.date().isoformat())}"
        f"<pmp:ReportExecutionTime>{moment:%H:%M:%S}Z</pmp:ReportExecutionTime>{span}"
    )


def report_end() -> str:
    """The end of an empty report (no patient, no prescription, no alert, no source)."""
    return f"{_END}</pmix:{REPORT_ROOT}>"


# --- status text -----------------------------------------------------------------------------------------------


def _joined(*sentences: str) -> str:
    return ". ".join(sentence for sentence in sentences if sentence)


def _included(sent: int, total: int) -> str:
    if total > sent:
        return (
            f"{sent} of the {total} dispensations in the requested period are included (the newest); narrow "
            "pmp:RequestPrescriptionDateRange to see the others"
        )
    return f"{sent} dispensations are included"


def _partial(gaps: list[pb.SourceOutcome]) -> str:
    if not gaps:
        return ""
    states = ", ".join(
        f"{usps_state(gap.state) or 'a state'} ({gap.status if gap.status in STATUSES else ERROR})" for gap in gaps
    )
    return f"Partial answer: {states} did not answer; see pmix:SourceOutcome"


# --- patient, prescriptions, alerts, sources ---------------------------------------------------------------------


def _patient(name: pb.HumanName, birth_date: str, gender: pb.Gender.ValueType, address: pb.Address) -> str:
    content = (
        date_holder("nc:PersonBirthDate", iso_date(birth_date))
        + person_name(name)
        + sex(gender)
        + contact("pmp:PersonPrimaryContactInformation", address, "")
    )
    return element("pmp:Patient", content)


class _Prescriptions:
    """The ``pmp:Prescription`` elements of one report, as text parts. The patient, pharmacy, prescriber and drug
    of a fill repeat across a report, so each distinct one is written once and its text reused."""

    __slots__ = ("_dispensers", "_drugs", "_patients", "_prescribers", "count", "default_state", "parts")

    def __init__(self, default_state: str) -> None:
        self.default_state = default_state
        self.parts: list[str] = []
        self.count = 0
        self._patients: dict[bytes, str] = {}
        self._dispensers: dict[bytes, str] = {}
        self._prescribers: dict[bytes, str] = {}
        self._drugs: dict[tuple[str, str, str, str], str] = {}

    def add(self, d: pb.Dispensation) -> None:
        filled = iso_date(d.date_filled)
        if not filled:
            return
        self.parts += (
            "<pmp:Prescription>",
            self._patient(d),
            self._dispenser(d.pharmacy) if d.HasField("pharmacy") else "",
            self._prescriber(d.prescriber) if d.HasField("prescriber") else "",
            f"<pmp:PrescriptionFilledDate><nc:Date>{filled}</nc:Date></pmp:PrescriptionFilledDate>",
            date_holder("pmp:PrescriptionWrittenDate", iso_date(d.date_written)),
            element("pmp:PrescriptionNumberText", fit(d.rx_number, 50)),
            self._drug(d),
            element("pmp:DispensedQuantity", _quantity(d.quantity)),
            f"<pmp:DaysSupplyCount>{d.days_supply}</pmp:DaysSupplyCount>" if 0 < d.days_supply <= 99_999 else "",
            _count("pmp:DrugRefillNumberCount", d.refill_number),
            _count("pmp:RefillsAuthorizedCount", d.refills_authorized),
            _partial_fill(d.partial_fill),
            element("pmp:MethodOfPaymentCode", d.payment_type if d.payment_type in PAYMENT_CODES else ""),
            element(
                "pmp:TransmissionFormOfRxOriginCode",
                d.transmission_form if d.transmission_form in TRANSMISSION_CODES else "",
            ),
            state_holder("pmix:PrescriptionSourceState", usps_state(d.source_state) or self.default_state),
            date_holder("pmix:PrescriptionSoldDate", iso_date(d.date_sold)),
            "</pmp:Prescription>",
        )
        self.count += 1

    def _patient(self, d: pb.Dispensation) -> str:
        key = d.patient_name.SerializeToString() + b"|" + d.patient_address.SerializeToString()
        key += f"|{d.patient_birth_date}|{d.patient_gender}".encode()
        text = self._patients.get(key)
        if text is None:
            text = _patient(d.patient_name, d.patient_birth_date, d.patient_gender, d.patient_address)
            self._patients[key] = text
        return text

    def _dispenser(self, p: pb.Pharmacy) -> str:
        key = p.SerializeToString()
        text = self._dispensers.get(key)
        if text is None:
            content = (
                element("nc:OrganizationDoingBusinessAsName", fit(p.name, 100))
                + contact("nc:OrganizationPrimaryContactInformation", p.address, p.phone)
                + identification("pmp:DEANumberIdentifier", p.dea)
                + identification("pmp:NCPDPIdentifier", p.ncpdp)
                + identification("pmp:NPIIdentifier", p.npi)
            )
            text = self._dispensers[key] = element("pmp:Dispenser", content)
        return text

    def _prescriber(self, p: pb.Practitioner) -> str:
        key = p.SerializeToString()
        text = self._prescribers.get(key)
        if text is None:
            text = self._prescribers[key] = element("pmp:Prescriber", practitioner(p))
        return text

    def _drug(self, d: pb.Dispensation) -> str:
        has_drug = d.HasField("drug")
        key = (
            d.ndc if d.product_id_qualifier in NDC_PRODUCT_QUALIFIERS else "",
            d.drug.name if has_drug else "",
            d.drug.strength if has_drug else "",
            d.quantity_unit,
        )
        text = self._drugs.get(key)
        if text is None:
            ndc, name, strength, unit = key
            content = (
                element("pmp:DrugProductNameText", fit(name, 200))
                + identification("pmp:DrugNDCProductIdentifier", ndc)
                + element("pmp:DrugStrengthText", fit(strength, 100))
                + element("pmp:DrugUnitOfMeasureText", fit(UNIT_TEXTS.get(unit, unit), 20))
            )
            text = self._drugs[key] = element("pmp:PrescriptionDrug", content)
        return text


def _quantity(value: float) -> str:
    """A positive decimal (six places at most); "" for what does not fit (zero once rounded, negative, huge)."""
    text = decimal_text(value, places=6, max_integer_digits=9) if value > 0 else ""
    return "" if text == "0" else text


def _count(tag: str, value: int) -> str:
    return f"<{tag}>{value}</{tag}>" if 0 <= value <= 999 else ""


def _partial_fill(code: str) -> str:
    if not code:
        return ""
    return f"<pmp:PartialFillIndicator>{'false' if code in NOT_PARTIAL else 'true'}</pmp:PartialFillIndicator>"


def _alert(alert: pb.Alert) -> str:
    if alert.code not in ALERT_CODES:
        return ""
    period = date_holder("nc:StartDate", iso_date(alert.period.start)) + date_holder(
        "nc:EndDate", iso_date(alert.period.end)
    )
    return "".join(
        (
            f"<pmix:PatientAlert><pmix:PatientAlertCategoryCode>{alert.code}</pmix:PatientAlertCategoryCode>",
            element("pmix:PatientAlertText", fit(alert.text, STATUS_TEXT_LENGTH)),
            element("pmix:PatientAlertValue", decimal_text(alert.value, places=8, max_integer_digits=20)),
            element("pmix:PatientAlertThresholdValue", decimal_text(alert.threshold, places=8, max_integer_digits=20)),
            element("pmix:PatientAlertDateRange", period),
            "</pmix:PatientAlert>",
        )
    )


def _source(source: pb.SourceOutcome) -> str:
    state = usps_state(source.state)
    if not state:
        return ""
    status = source.status if source.status in STATUSES else ERROR
    return "".join(
        (
            f"<pmix:SourceOutcome><nc:LocationStateUSPostalServiceCode>{state}</nc:LocationStateUSPostalServiceCode>",
            f"<pmix:ResponseStatusCode>{status}</pmix:ResponseStatusCode>",
            element("pmix:ResponseStatusText", fit(source.detail, STATUS_TEXT_LENGTH)),
            f"<pmix:PrescriptionCount>{max(0, source.dispensations)}</pmix:PrescriptionCount>",
            "</pmix:SourceOutcome>",
        )
    )
