"""``$pdmp-history`` from the asking side: a partner's output Parameters read back into ``pb.Dispensation``.

The inverse of ``history`` + ``resources`` (a test renders dispensations with this codec's encoder and reads them
back unchanged), and tolerant of what the IG allows a responder to do differently: a ``medicationReference`` to a
Medication entry instead of a CodeableConcept, references by ``Type/id`` as well as ``urn:uuid`` fullUrls, a
performer known only by its identifier, a prescriber known only by display name.

**Status** (``HistoryAnswer.status``, a PMIXStatusCode): ``complete`` when the Bundle holds at least one
MedicationDispense; otherwise the first PMIXStatusCode in the ``outcome`` issues (``no-data``, ``deferred``,
``disallowed``, ``error``); a Bundle without dispensations and no code is ``no-data``; nothing at all is ``error``.
An error response (an OperationOutcome with an HTTP error status) is read with ``outcome_status``.

The body comes from another state's system: anything that is not the expected shape — wrong JSON types, more than
``MAX_ENTRIES`` entries, a date that is not a date — makes the whole answer unreadable, ``PmpError``
(BACKEND_UNAVAILABLE) with a fixed text: a partner's content is never echoed (it may be PHI).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final

import orjson

from adapters.fhir._json import MAX_TEXT, At, JsonObject, codings, get_object, objects
from adapters.fhir.codes import (
    DEA_SYSTEMS,
    EXT_FILL_NUMBER,
    EXT_LME,
    EXT_METHOD_OF_PAYMENT,
    EXT_MME,
    EXT_TRANSMISSION_METHOD,
    PMIX_STATUS,
    SYSTEM_NCPDP,
    SYSTEM_NDC,
    SYSTEM_NPI,
    SYSTEM_PMIX_STATUS,
    SYSTEM_RXNORM,
    SYSTEM_V2_0203,
    SYSTEM_V3_ACT_CODE,
)
from adapters.fhir.demographics import read_patient, read_practitioner
from protos.errors import PmpError
from protos.pmp.v1 import pmp_pb2 as pb

MAX_ENTRIES: Final = 10_000
UNREADABLE: Final = "the partner's answer is not a valid $pdmp-history output"
_DATE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_UNITS_IN: Final = {"each": "01", "mL": "02", "g": "03"}  # the quantity's UCUM code (or unit) → ASAP DSP11
_PART_FILLS: Final = frozenset({"FFP", "RFP"})
_REFILLS: Final = frozenset({"RF", "RFP"})
_REVISED_TEXT: Final = "The pharmacy corrected this dispensation after first reporting it."
_PLACEHOLDER_NAMES: Final = ("NDC ", "Medication not identified")
_FAILED_STATUSES: Final = ("no-data", "deferred", "disallowed", "error")


@dataclass(slots=True)
class HistoryAnswer:
    """A partner's answer: its PMIXStatusCode, its dispensations (newest first as sent) and the person it names."""

    status: str
    dispensations: list[pb.Dispensation] = field(default_factory=list)
    patient: pb.MatchedPatient | None = None


def unreadable() -> PmpError:
    return PmpError(pb.ERROR_CODE_BACKEND_UNAVAILABLE, UNREADABLE)


def read_history_answer(body: bytes) -> HistoryAnswer:
    """The output Parameters of a ``$pdmp-history`` answer. Raises only ``PmpError`` (BACKEND_UNAVAILABLE)."""
    try:
        return _read(body)
    except (PmpError, _Unreadable):
        raise unreadable() from None
    except (ValueError, TypeError, KeyError, OverflowError):  # a value of the right JSON type but impossible
        raise unreadable() from None


def outcome_status(body: bytes) -> str | None:
    """The first PMIXStatusCode of an OperationOutcome (an error answer), None when there is none or the body is
    not one. Never raises."""
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(value, dict) or value.get("resourceType") != "OperationOutcome":
        return None
    try:
        return _first_status(value, At("OperationOutcome"))
    except PmpError:
        return None


def _first_status(outcome: JsonObject, at: At) -> str | None:
    for item, where in objects(outcome, "issue", at):
        for system, code in codings(get_object(item, "details", where), where.key("details")):
            if system == SYSTEM_PMIX_STATUS and code in PMIX_STATUS:
                return code
    return None


def _read(body: bytes) -> HistoryAnswer:
    try:
        root = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise unreadable() from None
    if not isinstance(root, dict) or root.get("resourceType") != "Parameters":
        raise unreadable()
    bundle: JsonObject | None = None
    status: str | None = None
    for parameter in _objects(root, "parameter"):
        name = _text(parameter, "name")
        resource = _object(parameter, "resource")
        if resource is None:
            continue
        if name == "pdmp-history-data" and resource.get("resourceType") == "Bundle" and bundle is None:
            bundle = resource
        elif name == "outcome" and resource.get("resourceType") == "OperationOutcome" and status is None:
            status = _first_status(resource, At("OperationOutcome"))
    if bundle is None:
        return HistoryAnswer(status if status in _FAILED_STATUSES else "error")
    answer = _Bundle(bundle).read()
    if answer.dispensations:
        answer.status = "complete"
    else:
        answer.status = status if status in _FAILED_STATUSES else "no-data"
    return answer


# Lean readers for the hot path (a merged answer reads every partner record): they check types as ``_json`` does
# but track no place — an unreadable answer is refused with one fixed text, never a location in it.


class _Unreadable(Exception):
    pass


def _object(parent: JsonObject, key: str) -> JsonObject | None:
    value = parent.get(key)
    if value is None or type(value) is dict:
        return value
    raise _Unreadable


def _objects(parent: JsonObject, key: str) -> list[JsonObject]:
    value = parent.get(key)
    if value is None:
        return []
    if type(value) is not list or any(type(item) is not dict for item in value):
        raise _Unreadable
    return value


def _text(parent: JsonObject, key: str, max_len: int = MAX_TEXT) -> str:
    value = parent.get(key)
    if value is None:
        return ""
    if type(value) is str and len(value) <= max_len:
        return value.strip()
    raise _Unreadable


def _codes(concept: JsonObject | None) -> Iterator[tuple[str, str]]:
    if concept is not None:
        for coding in _objects(concept, "coding"):
            yield _text(coding, "system"), _text(coding, "code")


def _day(value: str) -> str:
    """A FHIR date or dateTime as its calendar day; anything else is an unreadable answer."""
    if not value:
        return ""
    day = value[:10]
    if not _DATE.fullmatch(day):
        raise _Unreadable
    date.fromisoformat(day)  # ValueError for an impossible day
    return day


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _Unreadable
    return float(value)


def _count(value: Any) -> int:
    number = _number(value)
    if not number.is_integer() or not -(2**31) <= number < 2**31:
        raise _Unreadable
    return int(number)


def _read_address(element: JsonObject, out: pb.Address) -> None:
    lines = [line for line in (_text({"v": v}, "v") for v in _strings(element, "line")) if line]
    if lines:
        out.line1 = lines[0]
        out.line2 = " ".join(lines[1:])
    out.city = _text(element, "city")
    out.state = _text(element, "state")
    out.postal_code = _text(element, "postalCode")
    out.country = _text(element, "country")


def _strings(parent: JsonObject, key: str) -> list[str]:
    value = parent.get(key)
    if value is None:
        return []
    if type(value) is not list or any(type(item) is not str for item in value):
        raise _Unreadable
    return value


Person = tuple[pb.HumanName, str, pb.Gender.ValueType, pb.Address]


class _Bundle:
    """One Bundle: its resources indexed by fullUrl and ``Type/id``, read into dispensations."""

    __slots__ = ("_by_ref", "_people", "_pharmacies", "_prescribers", "_requests", "_resources")

    def __init__(self, bundle: JsonObject) -> None:
        entries = _objects(bundle, "entry")
        if len(entries) > MAX_ENTRIES:
            raise _Unreadable
        self._by_ref: dict[str, JsonObject] = {}
        self._resources: list[JsonObject] = []
        for entry in entries:
            resource = _object(entry, "resource")
            if resource is None:
                continue
            self._resources.append(resource)
            url = _text(entry, "fullUrl", 1000)
            if url:
                self._by_ref[url] = resource
            rid = _text(resource, "id")
            if rid:
                self._by_ref[f"{_text(resource, 'resourceType')}/{rid}"] = resource
        self._people: dict[int, Person] = {}
        self._pharmacies: dict[int, pb.Pharmacy] = {}
        self._prescribers: dict[int, pb.Practitioner] = {}
        self._requests: dict[int, tuple[str, int, pb.Practitioner | None]] = {}

    def read(self) -> HistoryAnswer:
        answer = HistoryAnswer("complete")
        for resource in self._resources:
            kind = resource.get("resourceType")
            if kind == "MedicationDispense":
                answer.dispensations.append(self._dispensation(resource))
            elif kind == "Patient" and answer.patient is None:
                name, born, gender, where = self._person(resource)
                answer.patient = pb.MatchedPatient(name=name, birth_date=born, gender=gender, address=where)
        return answer

    def _resolve(self, holder: JsonObject | None, kind: str) -> JsonObject | None:
        """The ``kind`` resource a Reference points to in this Bundle (None: no reference, or not in it)."""
        if holder is None:
            return None
        reference = _text(holder, "reference", 1000)
        found = self._by_ref.get(reference) if reference else None
        if found is None or found.get("resourceType") != kind:
            return None
        return found

    def _person(self, resource: JsonObject) -> Person:
        known = self._people.get(id(resource))
        if known is None:  # once per person: the codec's own Patient reader (it checks what it reads)
            query = read_patient(resource, At("Patient", "Patient"), today=date.max)
            known = self._people[id(resource)] = (query.name, query.birth_date, query.gender, query.address)
        return known

    def _dispensation(self, resource: JsonObject) -> pb.Dispensation:
        d = pb.Dispensation(id=_text(resource, "id"), status="reported")
        self._medication(resource, d)
        quantity = _object(resource, "quantity")
        if quantity is not None:
            if "value" in quantity:
                d.quantity = _number(quantity["value"])
            unit = _text(quantity, "code") or _text(quantity, "unit")
            d.quantity_unit = _UNITS_IN.get(unit, unit)
        supply = _object(resource, "daysSupply")
        if supply is not None and "value" in supply:
            d.days_supply = _count(supply["value"])
        d.date_filled = _day(_text(resource, "whenPrepared"))
        d.date_sold = _day(_text(resource, "whenHandedOver"))
        for ident in _objects(resource, "identifier"):
            if not d.rx_number and any(code == "FILL" for _, code in _codes(_object(ident, "type"))):
                d.rx_number = _text(ident, "value")
        for system, code in _codes(_object(resource, "type")):
            if system == SYSTEM_V3_ACT_CODE and code in _PART_FILLS:
                d.partial_fill = "01"
        self._extensions(resource, d)
        for note in _objects(resource, "note"):
            if _text(note, "text", 4000) == _REVISED_TEXT:
                d.status = "revised"
        subject = self._resolve(_object(resource, "subject"), "Patient")
        if subject is not None:
            name, born, gender, where_lives = self._person(subject)
            d.patient_name.CopyFrom(name)
            d.patient_birth_date = born
            d.patient_gender = gender
            d.patient_address.CopyFrom(where_lives)
        self._performer(resource, d)
        self._prescription(resource, d)
        return d

    def _medication(self, resource: JsonObject, d: pb.Dispensation) -> None:
        concept = _object(resource, "medicationCodeableConcept")
        if concept is None:
            medication = self._resolve(_object(resource, "medicationReference"), "Medication")
            concept = _object(medication, "code") if medication is not None else None
            if concept is None:
                return
        name = ""
        for coding in _objects(concept, "coding"):
            system, code = _text(coding, "system"), _text(coding, "code")
            if system == SYSTEM_NDC and code and not d.ndc:
                d.ndc, d.product_id_qualifier = code, "01"
                name = name or _text(coding, "display")
            elif system == SYSTEM_RXNORM and code and not d.rxnorm_code:
                d.rxnorm_code = code
        text = _text(concept, "text") or name
        if text and not text.startswith(_PLACEHOLDER_NAMES):
            d.drug.name = text
            if d.ndc:
                d.drug.ndc = d.ndc

    def _extensions(self, resource: JsonObject, d: pb.Dispensation) -> None:
        for extension in _objects(resource, "extension"):
            url = _text(extension, "url", 1000)
            if url == EXT_FILL_NUMBER and "valuePositiveInt" in extension:
                d.refill_number = _count(extension["valuePositiveInt"])
            elif url == EXT_MME and "valueDecimal" in extension:
                d.mme_per_day = _number(extension["valueDecimal"])
            elif url == EXT_LME and "valueDecimal" in extension:
                d.lme_per_day = _number(extension["valueDecimal"])
            elif url in (EXT_TRANSMISSION_METHOD, EXT_METHOD_OF_PAYMENT):
                coding = _object(extension, "valueCoding")
                code = _text(coding, "code") if coding is not None else ""
                if url == EXT_TRANSMISSION_METHOD:
                    d.transmission_form = code
                else:
                    d.payment_type = code

    def _performer(self, resource: JsonObject, d: pb.Dispensation) -> None:
        for performer in _objects(resource, "performer"):
            actor = _object(performer, "actor")
            if actor is None:
                continue
            found = self._resolve(actor, "Organization")
            if found is not None:
                d.pharmacy.CopyFrom(self._pharmacy(found))
            else:
                identifier = _object(actor, "identifier")
                if identifier is not None:
                    _pharmacy_identifier(identifier, d.pharmacy)
                d.pharmacy.name = _text(actor, "display")
            return

    def _pharmacy(self, resource: JsonObject) -> pb.Pharmacy:
        known = self._pharmacies.get(id(resource))
        if known is not None:
            return known
        pharmacy = pb.Pharmacy(name=_text(resource, "name"))
        for ident in _objects(resource, "identifier"):
            _pharmacy_identifier(ident, pharmacy)
        for telecom in _objects(resource, "telecom"):
            if _text(telecom, "system") == "phone" and not pharmacy.phone:
                pharmacy.phone = _text(telecom, "value")
        for element in _objects(resource, "address")[:1]:
            _read_address(element, pharmacy.address)
        self._pharmacies[id(resource)] = pharmacy
        return pharmacy

    def _prescription(self, resource: JsonObject, d: pb.Dispensation) -> None:
        for reference in _objects(resource, "authorizingPrescription"):
            request = self._resolve(reference, "MedicationRequest")
            if request is None:
                continue
            known = self._requests.get(id(request))  # a prescription's fills share it: read once
            if known is None:
                known = self._requests[id(request)] = self._read_request(request)
            d.date_written, d.refills_authorized, prescriber = known
            if prescriber is not None:
                d.prescriber.CopyFrom(prescriber)
            return

    def _read_request(self, request: JsonObject) -> tuple[str, int, pb.Practitioner | None]:
        """A MedicationRequest's written date, refills authorized and prescriber."""
        written = _day(_text(request, "authoredOn"))
        dispense = _object(request, "dispenseRequest")
        refills = 0
        if dispense is not None and "numberOfRepeatsAllowed" in dispense:
            refills = _count(dispense["numberOfRepeatsAllowed"])
        requester = _object(request, "requester")
        if requester is None:
            return written, refills, None
        practitioner = self._resolve(requester, "Practitioner")
        if practitioner is not None:
            return written, refills, self._prescriber(practitioner)
        shown = _text(requester, "display")
        if not shown:
            return written, refills, None
        given, _, family = shown.rpartition(" ")  # as written: "GIVEN [MIDDLE] FAMILY"
        return written, refills, pb.Practitioner(name=pb.HumanName(family=family, given=given))

    def _prescriber(self, resource: JsonObject) -> pb.Practitioner:
        known = self._prescribers.get(id(resource))
        if known is None:  # once per prescriber: the codec's own Practitioner reader
            known = self._prescribers[id(resource)] = read_practitioner(resource, At("Practitioner", "Practitioner"))
        return known


def _pharmacy_identifier(ident: JsonObject, out: pb.Pharmacy) -> None:
    system = _text(ident, "system")
    value = _text(ident, "value")
    types = {code for sys, code in _codes(_object(ident, "type")) if sys == SYSTEM_V2_0203}
    if system == SYSTEM_NPI and not out.npi:
        out.npi = value
    elif system == SYSTEM_NCPDP and not out.ncpdp:
        out.ncpdp = value
    elif (system in DEA_SYSTEMS or "DEA" in types) and not out.dea:
        out.dea = value
