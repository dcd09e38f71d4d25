"""Investigation holds: while an investigation is pending, the accesses it concerns are left out of the individual's
accounting of disclosures (Utah R156-37f-301(7)), and a purge keeps them.

A hold is keyed by exactly one of: a matched patient id (every record about that person is withheld) or a case
number (every record made under that case number is withheld). It ends on ``until`` (inclusive). Adding and
removing holds is itself recorded in the audit trail (``kind="admin"``).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from gateway.audit.errors import AuditInputError

MAX_TEXT = 200


@dataclass(slots=True, frozen=True)
class Hold:
    id: str
    patient_id: str
    case_number: str
    until: date
    reason: str
    created_at: str
    created_by: str

    def active(self, today: date) -> bool:
        return self.until >= today

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "patient_id": self.patient_id or None,
            "case_number": self.case_number or None,
            "until": self.until.isoformat(),
            "reason": self.reason,
            "created_at": self.created_at,
            "created_by": self.created_by,
        }


def hold_of(row: Sequence[Any]) -> Hold:
    return Hold(row[0], row[1], row[2], date.fromisoformat(row[3]), row[4], row[5], row[6])


def new_hold_id() -> str:
    return f"hold_{secrets.token_hex(8)}"


def check_text(value: str, field: str, *, limit: int = MAX_TEXT) -> str:
    value = value.strip()
    if len(value) > limit or not value.isprintable():
        raise AuditInputError(f"{field}: at most {limit} printable characters")
    return value


def check_hold(patient_id: str, case_number: str, until: date, today: date) -> tuple[str, str]:
    """The hold's key, checked: exactly one of patient id and case number, and an end date not in the past."""
    patient_id, case_number = check_text(patient_id, "patient_id"), check_text(case_number, "case_number")
    if bool(patient_id) == bool(case_number):
        raise AuditInputError("a hold names exactly one of a patient id and a case number")
    if until < today:
        raise AuditInputError("until: in the past")
    return patient_id, case_number


@dataclass(slots=True, frozen=True)
class ActiveHolds:
    """The holds in force on one day, as sets for the accounting's per-record test."""

    patient_ids: frozenset[str]
    case_numbers: frozenset[str]

    @classmethod
    def of(cls, holds: Iterable[Hold], today: date) -> ActiveHolds:
        active = [h for h in holds if h.active(today)]
        return cls(
            frozenset(h.patient_id for h in active if h.patient_id),
            frozenset(h.case_number for h in active if h.case_number),
        )

    def withholds(self, patient_ids: Iterable[str], case_number: str) -> bool:
        return (bool(case_number) and case_number in self.case_numbers) or any(
            p in self.patient_ids for p in patient_ids
        )
