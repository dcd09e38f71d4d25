"""Ground truth of a demo dataset: what a correct PMP must answer once every file is ingested.

For each person it gives the query a prescriber would send (canonical first/last name, DOB, sex, ZIP).
It also gives the exact final dispensations: revisions applied, voids removed. Dispensations are keyed
as ASAP revisions and voids match them, by (``Pharmacy.key``, Rx number, refill number, date filled).
``ground-truth.json`` is this object serialised (shape in :meth:`GroundTruth.to_json_dict`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from pmpdb.demo.people import Person, RecordedName

FORMAT = "pmpdb-demo-ground-truth/1"


@dataclass(slots=True, frozen=True, order=True)
class DispensationKey:
    """What ASAP revise (DSP01=01) and void (02) records match on."""

    pharmacy: str  # Pharmacy.key, e.g. "ncpdp:4612345"
    rx_number: str
    refill_number: int
    date_filled: date

    def to_json(self) -> dict[str, Any]:
        return {
            "pharmacy": self.pharmacy,
            "rx_number": self.rx_number,
            "refill_number": self.refill_number,
            "date_filled": self.date_filled.isoformat(),
        }


@dataclass(slots=True, frozen=True)
class Dispensation:
    """One fill, as reported or (in the ground truth) as finally on file."""

    key: DispensationKey
    person_id: str
    ndc: str
    quantity: str  # decimal text, as DSP09 carries it
    days_supply: int
    date_written: date
    date_sold: date
    refills_authorized: int
    prescriber_npi: str
    payment_type: str  # DSP16

    def to_json(self) -> dict[str, Any]:
        return {
            **self.key.to_json(),
            "ndc": self.ndc,
            "quantity": self.quantity,
            "days_supply": self.days_supply,
            "date_written": self.date_written.isoformat(),
            "date_sold": self.date_sold.isoformat(),
            "refills_authorized": self.refills_authorized,
            "prescriber_npi": self.prescriber_npi,
            "payment_type": self.payment_type,
        }


@dataclass(slots=True, frozen=True)
class PersonTruth:
    """A person, how each pharmacy recorded them, and their final dispensations (by date filled)."""

    person: Person
    same_name_dob_group: str | None  # shared by the distinct people who have the same name and DOB
    recorded_names: tuple[RecordedName, ...]
    dispensations: tuple[Dispensation, ...]
    # A person crafted to trip clinical alerts (pmpdb.demo.scenarios): its name, the PMIX alert codes a correct PMP
    # raises over the whole dataset period (exactly these), and the peak MME/day under CDC 2022 factors.
    scenario: str | None = None
    expected_alerts: tuple[str, ...] = ()
    expected_peak_mme: float | None = None

    @property
    def ambiguous_without_zip(self) -> bool:
        """A query by name + DOB (+ sex) alone must be answered AMBIGUOUS for this person."""
        return self.same_name_dob_group is not None

    def to_json(self) -> dict[str, Any]:
        p = self.person
        return {
            "id": p.person_id,
            "query": {
                "first_name": p.first_name,
                "last_name": p.last_name,
                "birth_date": p.birth_date.isoformat(),
                "gender": p.gender,
                "zip": p.address.zip,
            },
            "middle_name": p.middle_name,
            "address": {
                "line1": p.address.line1,
                "city": p.address.city,
                "state": p.address.state,
                "zip": p.address.zip,
            },
            "same_name_dob_group": self.same_name_dob_group,
            "ambiguous_without_zip": self.ambiguous_without_zip,
            "recorded_names": [
                {
                    "pharmacy": r.pharmacy,
                    "first_name": r.first_name,
                    "middle_name": r.middle_name,
                    "last_name": r.last_name,
                    "variants": list(r.variants),
                }
                for r in self.recorded_names
            ],
            "dispensations": [d.to_json() for d in self.dispensations],
            "scenario": self.scenario,
            "expected_alerts": list(self.expected_alerts),
            "expected_peak_mme": self.expected_peak_mme,
        }


@dataclass(slots=True, frozen=True)
class ZeroReportTruth:
    """A pharmacy's zero report: it dispensed nothing reportable from ``period_start`` to ``period_end``."""

    pharmacy: str
    period_start: date
    period_end: date
    file: str

    def to_json(self) -> dict[str, Any]:
        return {
            "pharmacy": self.pharmacy,
            "period_start": self.period_start.isoformat(),
            "period_end": self.period_end.isoformat(),
            "file": self.file,
        }


@dataclass(slots=True, frozen=True)
class Revision:
    """A DSP01=01 record: the same keys, a corrected quantity and/or days supply."""

    key: DispensationKey
    quantity_before: str
    days_supply_before: int
    quantity_after: str
    days_supply_after: int

    def to_json(self) -> dict[str, Any]:
        return {
            **self.key.to_json(),
            "quantity_before": self.quantity_before,
            "days_supply_before": self.days_supply_before,
            "quantity_after": self.quantity_after,
            "days_supply_after": self.days_supply_after,
        }


@dataclass(slots=True, frozen=True)
class GroundTruth:
    """Everything a test or a demo needs to check a PMP against the generated files."""

    seed: int
    start: date
    end: date
    files: tuple[str, ...]  # in ingestion order
    pharmacies: tuple[dict[str, str], ...]
    prescribers: tuple[dict[str, str], ...]
    people: tuple[PersonTruth, ...]
    zero_reports: tuple[ZeroReportTruth, ...]
    revisions: tuple[Revision, ...]
    voids: tuple[DispensationKey, ...]
    reported: int  # DSP01=00 records across the "new" files

    @property
    def final_count(self) -> int:
        return sum(len(p.dispensations) for p in self.people)

    def person(self, person_id: str) -> PersonTruth:
        """The truth for one person (``KeyError`` if unknown)."""
        for p in self.people:
            if p.person.person_id == person_id:
                return p
        raise KeyError(person_id)

    def to_json_dict(self) -> dict[str, Any]:
        """The ``ground-truth.json`` shape (dates ISO ``YYYY-MM-DD``; quantities decimal text)::

        {format, seed, start, end, files: [name…],
         totals: {people, reported, revised, voided, final},
         pharmacies: [{key, npi, ncpdp, dea, name, city, zip}],
         prescribers: [{npi, dea, state_license, first_name, last_name}],
         people: [{id, query: {first_name, last_name, birth_date, gender, zip}, middle_name,
                   address: {line1, city, state, zip}, same_name_dob_group, ambiguous_without_zip,
                   recorded_names: [{pharmacy, first_name, middle_name, last_name, variants: [kind…]}],
                   dispensations: [{pharmacy, rx_number, refill_number, date_filled, ndc, quantity,
                                    days_supply, date_written, date_sold, refills_authorized,
                                    prescriber_npi, payment_type}],
                   scenario, expected_alerts: [code…], expected_peak_mme}],
         zero_reports: [{pharmacy, period_start, period_end, file}],
         revisions: [{pharmacy, rx_number, refill_number, date_filled, quantity_before,
                      days_supply_before, quantity_after, days_supply_after}],
         voids: [{pharmacy, rx_number, refill_number, date_filled}]}
        """
        return {
            "format": FORMAT,
            "seed": self.seed,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "files": list(self.files),
            "totals": {
                "people": len(self.people),
                "reported": self.reported,
                "revised": len(self.revisions),
                "voided": len(self.voids),
                "final": self.final_count,
            },
            "pharmacies": [dict(p) for p in self.pharmacies],
            "prescribers": [dict(p) for p in self.prescribers],
            "people": [p.to_json() for p in self.people],
            "zero_reports": [z.to_json() for z in self.zero_reports],
            "revisions": [r.to_json() for r in self.revisions],
            "voids": [k.to_json() for k in self.voids],
        }

    def to_json(self) -> str:
        """Deterministic JSON text (UTF-8 names kept as they are)."""
        return json.dumps(self.to_json_dict(), ensure_ascii=False, indent=1) + "\n"
