"""The answer's resources as plain dicts: pdmp-patient, pdmp-medicationdispense, pharmacy, prescriber, prescription,
and a DetectedIssue per clinical alert.

Shared by ``$pdmp-history`` (Bundle collection) and MedicationDispense search (Bundle searchset). This is the hot
path: no pydantic, each protobuf field read once, sub-dicts that repeat (meta, subject, codings of the same drug,
a pharmacy's performer reference) built once per answer and shared — orjson writes a shared dict as often as it
is referenced. Entries link by deterministic ``urn:uuid`` fullUrls (see ``_ids``), so equal answers are equal
bytes. Empty protobuf fields are left out, never written as ``""``: the gateway's minimum-necessary step clears
what a role may not see, and what it clears must not reappear as an empty element.

Decisions where the IG is silent or self-contradictory (standards.md §1.6, §1.11):

* ``rx-fill-number`` is a positiveInt but 0 means the original fill: it is written for refills (≥ 1) only, and
  ``MedicationDispense.type`` (v3 ActPharmacySupplyType) always says first fill / refill and part fill.
* ``whenHandedOver`` without a date sold carries data-absent-reason ``unknown``, as the IG examples do.
* One MedicationRequest per prescription (pharmacy + Rx number), shared by its fills; status ``unknown`` — a PMP
  knows the prescription was dispensed, not whether it is still active.
* A revised report is still ``completed``; a note says the pharmacy corrected it.
* ``pdmp-extension-mme`` (``rx-mme``, valueDecimal) carries pmpdb's MME/day on each MedicationDispense that has
  one, ``pdmp-extension-lme`` its LME/day; a dispensation pmpdb could not convert has neither (never a 0).
* Each alert is a core ``DetectedIssue`` (the IG's ``alert`` slice): ``status`` final, ``code`` from
  PMIXPatientAlertCatCode (03 doctor/pharmacy shopping, 04 overlapping prescription, 05 MME) with its display as
  ``text``, ``patient`` the Patient entry, ``identifiedPeriod`` the days the condition held, ``detail`` pmpdb's
  one-line text. Alerts come right after the Patient: a report's reader sees them first.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, Final

from adapters.fhir._ids import cached_uuid5_urn, is_fhir_id
from adapters.fhir.codes import (
    EXT_DATA_ABSENT_REASON,
    EXT_FILL_NUMBER,
    EXT_LME,
    EXT_METHOD_OF_PAYMENT,
    EXT_MME,
    EXT_TRANSMISSION_METHOD,
    PATIENT_ALERTS,
    PAYMENT_TYPES,
    PROFILE_MEDICATION_DISPENSE,
    PROFILE_PDMP_PATIENT,
    PROFILE_PHARMACY,
    PROFILE_US_CORE_MEDICATION_REQUEST,
    PROFILE_US_CORE_PATIENT,
    PROFILE_US_CORE_PRACTITIONER,
    SYSTEM_DEA,
    SYSTEM_NCPDP,
    SYSTEM_NDC,
    SYSTEM_NPI,
    SYSTEM_PMIX_ALERT,
    SYSTEM_PMIX_PAYMENT,
    SYSTEM_PMIX_TRANSMISSION,
    SYSTEM_RXNORM,
    SYSTEM_UCUM,
    SYSTEM_V2_0203,
    SYSTEM_V3_ACT_CODE,
    TRANSMISSION_FORMS,
)
from protos.pmp.v1 import pmp_pb2 as pb

Json = dict[str, Any]
Entry = tuple[str, Json]  # (fullUrl, resource)

GENDER_OUT: Final = {pb.GENDER_FEMALE: "female", pb.GENDER_MALE: "male", pb.GENDER_UNKNOWN: "unknown"}
_FILL_TYPE: Final = {"coding": [{"system": SYSTEM_V2_0203, "code": "FILL", "display": "Filler Identifier"}]}
_LICENCE_TYPE: Final = {"coding": [{"system": SYSTEM_V2_0203, "code": "SL", "display": "State license"}]}
_UNKNOWN: Final = {"extension": [{"url": EXT_DATA_ABSENT_REASON, "valueCode": "unknown"}]}
_REVISED_NOTE: Final = [{"text": "The pharmacy corrected this dispensation after first reporting it."}]
_DAYS: Final = {"unit": "days", "system": SYSTEM_UCUM, "code": "d"}
_UNITS: Final = {  # ASAP DSP11
    "01": {"unit": "each"},
    "02": {"unit": "mL", "system": SYSTEM_UCUM, "code": "mL"},
    "03": {"unit": "g", "system": SYSTEM_UCUM, "code": "g"},
}
_SUPPLY_TYPES: Final = {  # (refill?, part fill?) → v3 ActPharmacySupplyType
    (False, False): ("FF", "First Fill"),
    (False, True): ("FFP", "First Fill - Part Fill"),
    (True, False): ("RF", "Refill"),
    (True, True): ("RFP", "Refill - Part Fill"),
}
SUPPLY_TYPE: Final = {
    key: {"coding": [{"system": SYSTEM_V3_ACT_CODE, "code": code, "display": display}]}
    for key, (code, display) in _SUPPLY_TYPES.items()
}
TRANSMISSION_EXT: Final[dict[str, Json]] = {
    code: {
        "url": EXT_TRANSMISSION_METHOD,
        "valueCoding": {"system": SYSTEM_PMIX_TRANSMISSION, "code": code, "display": d},
    }
    for code, d in TRANSMISSION_FORMS.items()
}
PAYMENT_EXT: Final[dict[str, Json]] = {
    code: {"url": EXT_METHOD_OF_PAYMENT, "valueCoding": {"system": SYSTEM_PMIX_PAYMENT, "code": code, "display": d}}
    for code, d in PAYMENT_TYPES.items()
}
_NOT_PARTIAL: Final = frozenset({"", "00"})
_NDC_QUALIFIERS: Final = frozenset({"", "01"})


def instant(now: datetime) -> str:
    """A FHIR instant (seconds, ``Z`` for UTC); a naive ``now`` is taken as UTC."""
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    text = now.isoformat(timespec="seconds")
    return f"{text[:-6]}Z" if text.endswith("+00:00") else text


def matched_patient(response: pb.SearchHistoryResponse) -> pb.MatchedPatient:
    """The person the answer is about: the match, else (a response without one) the first dispensation's record."""
    if response.patients:
        return response.patients[0]
    if not response.dispensations:
        return pb.MatchedPatient()
    d = response.dispensations[0]
    return pb.MatchedPatient(
        id=d.patient_id,
        name=d.patient_name,
        birth_date=d.patient_birth_date,
        gender=d.patient_gender,
        address=d.patient_address,
    )


def display_name(name: pb.HumanName) -> str:
    return " ".join(p for p in (name.prefix, name.given, name.middle, name.family, name.suffix) if p)


def human_name(name: pb.HumanName) -> Json | None:
    out: Json = {}
    if name.family:
        out["family"] = name.family
    given = [g for g in (name.given, name.middle) if g]
    if given:
        out["given"] = given
    if name.prefix:
        out["prefix"] = [name.prefix]
    if name.suffix:
        out["suffix"] = [name.suffix]
    return out or None


def address(a: pb.Address) -> Json | None:
    out: Json = {}
    lines = [line for line in (a.line1, a.line2) if line]
    if lines:
        out["line"] = lines
    if a.city:
        out["city"] = a.city
    if a.state:
        out["state"] = a.state
    if a.postal_code:
        out["postalCode"] = a.postal_code
    if a.country:
        out["country"] = a.country
    return out or None


def decimal(value: float) -> int | float:
    """A FHIR decimal: whole numbers without ``.0``."""
    return int(value) if value.is_integer() and abs(value) < 2**53 else value


def quantity(value: float, unit: str) -> Json:
    """A Quantity with the ASAP unit as UCUM where there is one; whole numbers are written without ``.0``."""
    out: Json = {}
    if math.isfinite(value):
        out["value"] = decimal(value)
    out.update(_UNITS.get(unit) or ({"unit": unit} if unit else {}))
    return out


class ResourceBuilder:
    """Builds the entries of one answer; pharmacies, prescribers and prescriptions are written once each."""

    __slots__ = (
        "_amounts",
        "_days",
        "_drugs",
        "_extensions",
        "_meta_dispense",
        "_meta_pharmacy",
        "_meta_practitioner",
        "_meta_request",
        "_pharmacies",
        "_prescribers",
        "_quantities",
        "_requests",
        "_source",
        "_urn_dispense",
        "alerts",
        "includes",
        "matches",
        "patient_entry",
        "subject",
    )

    def __init__(self, source: str, patient_id: str, patient: pb.MatchedPatient) -> None:
        self._source = source
        self._urn_dispense = f"{source}|MedicationDispense|"
        self._meta_dispense = _meta(PROFILE_MEDICATION_DISPENSE, source)
        self._meta_pharmacy = _meta(PROFILE_PHARMACY, source)
        self._meta_practitioner = _meta(PROFILE_US_CORE_PRACTITIONER, source)
        self._meta_request = _meta(PROFILE_US_CORE_MEDICATION_REQUEST, source)
        # Per answer: each thing's JSON is built once and shared by every resource that mentions it.
        self._pharmacies: dict[str, list[Json]] = {}  # key → performer (reference, identifier, display)
        self._prescribers: dict[str, Json] = {}  # key → requester reference
        self._requests: dict[tuple[str, str], list[Json] | None] = {}  # key → authorizingPrescription
        self._extensions: dict[tuple[int, str, str], list[Json]] = {}
        self._drugs: dict[tuple[str, str, str, bool], Json] = {}
        self._quantities: dict[tuple[float, str], Json] = {}
        self._days: dict[int, Json] = {}
        self._amounts: dict[tuple[str, float], Json] = {}
        self.alerts: list[Entry] = []  # DetectedIssue
        self.matches: list[Entry] = []  # MedicationDispense
        self.includes: list[Entry] = []  # MedicationRequest, Organization, Practitioner, in first-use order
        self.patient_entry = self._patient(patient_id, patient)
        self.subject: Json = {"reference": self.patient_entry[0]}
        shown = display_name(patient.name)
        if shown:
            self.subject["display"] = shown

    def entries(self) -> Iterator[Entry]:
        """The patient, its alerts, then the dispensations, then what they reference."""
        yield self.patient_entry
        yield from self.alerts
        yield from self.matches
        yield from self.includes

    def add_alerts(self, alerts: Iterable[pb.Alert]) -> None:
        """One DetectedIssue per alert (the IG's ``alert`` slice)."""
        meta = {"source": self._source}
        patient_key = self.patient_entry[0]
        for alert in alerts:
            display = PATIENT_ALERTS.get(alert.code, "")
            coding: Json = {"system": SYSTEM_PMIX_ALERT, "code": alert.code}
            if display:
                coding["display"] = display
            resource: Json = {
                "resourceType": "DetectedIssue",
                "meta": meta,
                "status": "final",
                "code": {"coding": [coding], "text": display or alert.code},
                "patient": self.subject,
            }
            period = alert.period
            if period.start or period.end:
                resource["identifiedPeriod"] = {k: v for k, v in (("start", period.start), ("end", period.end)) if v}
            if alert.text:
                resource["detail"] = alert.text
            key = f"{patient_key}|{alert.code}|{period.start}|{period.end}"
            self.alerts.append((self._urn("DetectedIssue", key), resource))

    def _amount(self, url: str, value: float) -> Json:
        found = self._amounts.get((url, value))
        if found is None:
            found = self._amounts[url, value] = {"url": url, "valueDecimal": decimal(value)}
        return found

    def _urn(self, kind: str, key: str) -> str:
        return cached_uuid5_urn(f"{self._source}|{kind}|{key}")

    def _patient(self, patient_id: str, p: pb.MatchedPatient) -> Entry:
        resource: Json = {"resourceType": "Patient"}
        if is_fhir_id(patient_id):
            resource["id"] = patient_id
        resource["meta"] = {"profile": [PROFILE_PDMP_PATIENT, PROFILE_US_CORE_PATIENT], "source": self._source}
        name = human_name(p.name)
        if name:
            resource["name"] = [name]
        resource["gender"] = GENDER_OUT.get(p.gender, "unknown")
        if p.birth_date:
            resource["birthDate"] = p.birth_date
        else:
            resource["_birthDate"] = _UNKNOWN
        where = address(p.address)
        if where:
            resource["address"] = [where]
        return self._urn("Patient", patient_id), resource

    def add(self, d: pb.Dispensation) -> None:
        """One MedicationDispense, plus the pharmacy, prescriber and prescription it names when first seen.

        Per-answer caches are looked up inline: this runs once per dispensation, a call costs as much as a lookup.
        """
        did = d.id
        refill = d.refill_number
        rx = d.rx_number
        # the drug's name comes from pmpdb's drug reference, which is keyed by NDC: the NDC stands for it
        drug_key = (d.product_id_qualifier, d.ndc, d.rxnorm_code, d.HasField("drug"))
        medication = self._drugs.get(drug_key) or self._medication(d, drug_key)
        pharmacy = d.pharmacy  # an unset sub-message reads as empty: no key, no performer
        pharmacy_key = pharmacy.ncpdp or _pharmacy_key(pharmacy)
        performer = (
            (self._pharmacies.get(pharmacy_key) or self._pharmacy(pharmacy, pharmacy_key)) if pharmacy_key else None
        )
        identifier = {"type": _FILL_TYPE, "value": rx} if rx else None
        value, unit = d.quantity, d.quantity_unit
        amount = self._quantities.get((value, unit))
        if amount is None:
            amount = self._quantities[value, unit] = quantity(value, unit)
        resource: Json = {
            "resourceType": "MedicationDispense",
            "id": did,
            "meta": self._meta_dispense,
            "status": "completed",
            "type": SUPPLY_TYPE[refill > 0, d.partial_fill not in _NOT_PARTIAL],
            "medicationCodeableConcept": medication,
            "subject": self.subject,
            "quantity": amount,
        }
        if not (did.isdigit() and did.isascii()) and not is_fhir_id(did):
            del resource["id"]
        extension_key = (refill, d.transmission_form, d.payment_type)
        extensions = self._extensions.get(extension_key)
        if extensions is None:
            extensions = self._extensions[extension_key] = _extensions(*extension_key)
        if d.HasField("mme_per_day") and math.isfinite(d.mme_per_day):
            extensions = [*extensions, self._amount(EXT_MME, d.mme_per_day)]
        if d.HasField("lme_per_day") and math.isfinite(d.lme_per_day):
            extensions = [*extensions, self._amount(EXT_LME, d.lme_per_day)]
        if extensions:
            resource["extension"] = extensions
        if identifier is not None:
            resource["identifier"] = [identifier]
        if performer is not None:
            resource["performer"] = performer
        request_key = (pharmacy_key, rx) if rx and pharmacy_key else ("", did)
        if request_key in self._requests:
            prescription = self._requests[request_key]
        else:
            actor = performer[0]["actor"] if performer is not None else None
            prescription = self._requests[request_key] = self._request(d, request_key, identifier, medication, actor)
        if prescription is not None:
            resource["authorizingPrescription"] = prescription
        days = d.days_supply
        if days:
            supply = self._days.get(days)
            if supply is None:
                supply = self._days[days] = {"value": days, **_DAYS}
            resource["daysSupply"] = supply
        filled = d.date_filled
        if filled:
            resource["whenPrepared"] = filled
        sold = d.date_sold
        if sold:
            resource["whenHandedOver"] = sold
        else:
            resource["_whenHandedOver"] = _UNKNOWN
        if d.status == "revised":
            resource["note"] = _REVISED_NOTE
        self.matches.append((cached_uuid5_urn(self._urn_dispense + did), resource))

    def _medication(self, d: pb.Dispensation, key: tuple[str, str, str, bool]) -> Json:
        qualifier, ndc, rxnorm, has_drug = key
        ndc = ndc if qualifier in _NDC_QUALIFIERS else ""
        name = d.drug.name if has_drug else ""
        coding: list[Json] = []
        if rxnorm:
            coding.append({"system": SYSTEM_RXNORM, "code": rxnorm})
        if ndc:
            ndc_coding: Json = {"system": SYSTEM_NDC, "code": ndc}
            if name:
                ndc_coding["display"] = name
            ndc_coding["userSelected"] = True
            coding.append(ndc_coding)
        concept: Json = {"coding": coding} if coding else {}
        concept["text"] = name or (f"NDC {ndc}" if ndc else "Medication not identified")
        self._drugs[key] = concept
        return concept

    def _pharmacy(self, p: pb.Pharmacy, key: str) -> list[Json]:
        """The pharmacy's Organization (written once) and the ``performer`` that references it."""
        url = self._urn("Organization", key)
        identifiers = []
        if p.npi:
            identifiers.append({"system": SYSTEM_NPI, "value": p.npi})
        if p.ncpdp:
            identifiers.append({"system": SYSTEM_NCPDP, "value": p.ncpdp})
        if p.dea:
            identifiers.append({"system": SYSTEM_DEA, "value": p.dea})
        resource: Json = {"resourceType": "Organization", "meta": self._meta_pharmacy}
        if identifiers:
            resource["identifier"] = identifiers
        if p.name:
            resource["name"] = p.name
        if p.phone:
            resource["telecom"] = [{"system": "phone", "value": p.phone}]
        where = address(p.address)
        if where:
            resource["address"] = [where]
        actor: Json = {"reference": url}
        if identifiers:  # pdmp-dispense-performer: prefer the NCPDP id, as the IG examples do
            actor["identifier"] = next((i for i in identifiers if i["system"] == SYSTEM_NCPDP), identifiers[0])
        if p.name:
            actor["display"] = p.name
        performer = [{"actor": actor}]
        self._pharmacies[key] = performer
        self.includes.append((url, resource))
        return performer

    def _prescriber(self, p: pb.Practitioner) -> Json | None:
        """The requester reference; the Practitioner is written once (US Core wants an identifier: a prescriber
        known only by name is a display-only reference)."""
        if p.npi:
            key = f"NPI:{p.npi}"
        elif p.dea:
            key = f"DEA:{p.dea}"
        elif p.state_license:
            key = f"SL:{p.license_state}:{p.state_license}"
        else:
            shown = display_name(p.name)
            return {"display": shown} if shown else None
        if key in self._prescribers:
            return self._prescribers[key]
        url = self._urn("Practitioner", key)
        identifiers: list[Json] = []
        if p.npi:
            identifiers.append({"system": SYSTEM_NPI, "value": p.npi})
        if p.dea:
            identifiers.append({"system": SYSTEM_DEA, "value": p.dea})
        if p.state_license:
            licence: Json = {"type": _LICENCE_TYPE, "value": p.state_license}
            if p.license_state:
                licence["assigner"] = {"display": p.license_state}
            identifiers.append(licence)
        resource: Json = {"resourceType": "Practitioner", "meta": self._meta_practitioner, "identifier": identifiers}
        name = human_name(p.name)
        if name:
            resource["name"] = [name]
        reference: Json = {"reference": url}
        shown = display_name(p.name)
        if shown:
            reference["display"] = shown
        self._prescribers[key] = reference
        self.includes.append((url, resource))
        return reference

    def _request(
        self,
        d: pb.Dispensation,
        key: tuple[str, str],
        identifier: Json | None,
        medication: Json,
        actor: Json | None,
    ) -> list[Json] | None:
        """The ``authorizingPrescription``: one MedicationRequest per pharmacy + Rx number, shared by its fills."""
        requester = self._prescriber(d.prescriber) if d.HasField("prescriber") else None
        written = d.date_written
        if not (identifier or written or requester):
            return None
        url = self._urn("MedicationRequest", "|".join(key))
        resource: Json = {"resourceType": "MedicationRequest", "meta": self._meta_request}
        reference: Json = {"reference": url}
        if identifier is not None:  # the Rx number, which the pharmacy assigned
            resource["identifier"] = [{**identifier, "assigner": actor} if actor is not None else identifier]
            reference["identifier"] = identifier
        resource["status"] = "unknown"
        resource["intent"] = "order"
        resource["medicationCodeableConcept"] = medication
        resource["subject"] = self.subject
        if written:
            resource["authoredOn"] = written
        if requester is not None:
            resource["requester"] = requester
        resource["dispenseRequest"] = {"numberOfRepeatsAllowed": max(d.refills_authorized, 0)}
        self.includes.append((url, resource))
        return [reference]


def _extensions(refill: int, transmission: str, payment: str) -> list[Json]:
    out: list[Json] = [{"url": EXT_FILL_NUMBER, "valuePositiveInt": refill}] if refill > 0 else []
    if transmission in TRANSMISSION_EXT:
        out.append(TRANSMISSION_EXT[transmission])
    if payment in PAYMENT_EXT:
        out.append(PAYMENT_EXT[payment])
    return out


def _pharmacy_key(p: pb.Pharmacy) -> str:
    """A pharmacy without an NCPDP id: by NPI, DEA, else name and ZIP code ("" when nothing identifies it)."""
    if p.npi:
        return f"NPI:{p.npi}"
    if p.dea:
        return f"DEA:{p.dea}"
    return f"NAME:{p.name}|{p.address.postal_code}" if p.name else ""


def _meta(profile: str, source: str) -> Json:
    return {"profile": [profile], "source": source}
