"""The division's reports over the audit trail.

**Accounting of disclosures** (Utah R156-37f-301(7)): for one individual and a period, who requested or received
PMP information about them — the requester's role and name, the practitioner on whose behalf a delegate asked,
the EDS, the date range of the information, and when. The individual is named by demographics (last name and
birth date, optionally first name) and/or a matched patient id. Records are found two ways:

1. the request's own patient query, folded the simple way (``record.fold_name``: case, accents, punctuation and
   spaces ignored; first given name only) — equal last name and birth date (and first name when given);
2. the person pmpdb matched: any record whose matched patient ids include the id given, or an id matched on a
   record found by (1) — so a request that spelled the name differently but matched the same person is listed.

Limits: a request whose demographics differ from the individual's (nickname, typo, other birth date) *and* that
matched no person (no-data, ambiguous, refused before the search) is not found; the gateway does not re-run
pmpdb's matcher over the trail. By default the accounting lists requests that reached the database (provided,
no-data, ambiguous); ``include_refused`` adds the refused ones (their requester is the message's claim).

Records under an active investigation hold are left out, and the answer says that some were withheld (not how
many). Names come from the registry (requester, EDS); a requester the registry does not know is shown as the
message named them.

**Usage**: request records per user, per EDS, per partner state and per day over a period, outcome by outcome
(the CT PMP statistical report's "reports requested per user").
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

import orjson

from gateway.audit.errors import AuditInputError, AuditUnavailableError
from gateway.audit.holds import ActiveHolds
from gateway.audit.record import AuditRecord, Outcome, StoredRecord, admin_record, first_name_key, fold_name
from gateway.audit.store.base import USAGE_DIMENSIONS, AuditStore, period_bounds
from gateway.policy.registry.errors import RegistryUnavailableError
from gateway.policy.registry.store.base import RegistryStore

ACCESS_OUTCOMES = frozenset({Outcome.PROVIDED.value, Outcome.NO_DATA.value, Outcome.AMBIGUOUS.value})
WITHHELD_NOTE = "Some disclosures are not listed because an investigation is pending."


@dataclass(slots=True, frozen=True)
class Subject:
    """Whom an accounting is about: last name + birth date (+ first name), and/or a matched patient id."""

    last: str = ""
    first: str = ""
    dob: str = ""
    patient_id: str = ""

    def checked(self) -> Subject:
        last, first, dob, patient_id = self.last.strip(), self.first.strip(), self.dob.strip(), self.patient_id.strip()
        if dob:
            try:
                dob = date.fromisoformat(dob).isoformat()
            except ValueError:
                raise AuditInputError("dob: not a YYYY-MM-DD date") from None
        if (last or first) and not dob:
            raise AuditInputError("dob: required with a name")
        if dob and not last:
            raise AuditInputError("last: required with a birth date")
        if not patient_id and not (last and dob):
            raise AuditInputError("name the individual by last name and birth date, or by patient id")
        if len(patient_id) > 200 or len(last) > 200 or len(first) > 200:
            raise AuditInputError("at most 200 characters per field")
        return Subject(last, first, dob, patient_id)


@dataclass(slots=True, frozen=True)
class Disclosure:
    seq: int
    when: str
    protocol: str
    role: str
    requester: str  # the registry's name, else the message's
    requester_id: str  # the registry's user id ("" if the requester was not identified)
    on_behalf_of: str
    eds_id: str
    eds: str  # the EDS's name
    partner_state: str
    purpose: str
    date_range: tuple[str, str]
    outcome: str
    records: int

    def as_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "when": self.when,
            "protocol": self.protocol,
            "role": self.role,
            "requester": self.requester,
            "requester_id": self.requester_id or None,
            "on_behalf_of": self.on_behalf_of or None,
            "eds_id": self.eds_id or None,
            "eds": self.eds or None,
            "partner_state": self.partner_state or None,
            "purpose": self.purpose or None,
            "date_range": {"start": self.date_range[0] or None, "end": self.date_range[1] or None},
            "outcome": self.outcome,
            "records": self.records,
        }


@dataclass(slots=True, frozen=True)
class Accounting:
    start: date | None
    end: date | None
    disclosures: list[Disclosure]
    withheld: bool

    def as_json(self) -> dict[str, Any]:
        return {
            "period": {
                "from": self.start.isoformat() if self.start else None,
                "to": self.end.isoformat() if self.end else None,
            },
            "disclosures": [d.as_json() for d in self.disclosures],
            "count": len(self.disclosures),
            "withheld": self.withheld,
            "note": WITHHELD_NOTE if self.withheld else None,
        }


class _Names:
    """Registry look-ups, once per id per report."""

    def __init__(self, registry: RegistryStore | None) -> None:
        self._registry = registry
        self._users: dict[str, str] = {}
        self._eds: dict[str, str] = {}

    async def user(self, user_id: str) -> str:
        if not user_id or self._registry is None:
            return ""
        if user_id not in self._users:
            try:
                user = await self._registry.get_user(user_id)
            except RegistryUnavailableError as exc:
                raise AuditUnavailableError("the registry is unavailable: requester names unknown") from exc
            self._users[user_id] = f"{user.last_name}, {user.first_name}" if user else ""
        return self._users[user_id]

    async def eds(self, eds_id: str) -> str:
        if not eds_id or self._registry is None:
            return ""
        if eds_id not in self._eds:
            try:
                eds = await self._registry.get_eds(eds_id)
            except RegistryUnavailableError as exc:
                raise AuditUnavailableError("the registry is unavailable: EDS names unknown") from exc
            self._eds[eds_id] = eds.name if eds else ""
        return self._eds[eds_id]


def _supervisor(r: StoredRecord) -> str:
    name, ident = r.record.on_behalf_of, r.record.on_behalf_of_ident
    return f"{name} ({ident})" if name and ident else name or ident


async def accounting(
    store: AuditStore,
    subject: Subject,
    *,
    start: date | None = None,
    end: date | None = None,
    registry: RegistryStore | None = None,
    today: date | None = None,
    include_refused: bool = False,
) -> Accounting:
    """The accounting of disclosures about ``subject`` made in [start, end] (whole days, UTC)."""
    subject = subject.checked()
    low, high = period_bounds(start, end)
    found = await store.subject_records(
        last=fold_name(subject.last),
        first=first_name_key(subject.first),
        dob=subject.dob,
        patient_ids=[subject.patient_id] if subject.patient_id else [],
        low=low,
        high=high,
    )
    holds = ActiveHolds.of(await store.list_holds(active_on=today or date.today()), today or date.today())
    names = _Names(registry)
    withheld = False
    out: list[Disclosure] = []
    for r in found:
        rec = r.record
        if not include_refused and rec.outcome not in ACCESS_OUTCOMES:
            continue
        if holds.withholds(rec.patient_ids, rec.case_number):
            withheld = True
            continue
        out.append(
            Disclosure(
                seq=r.seq,
                when=rec.time,
                protocol=rec.protocol,
                role=rec.role,
                requester=await names.user(rec.user_id) or rec.requester or rec.requester_ident,
                requester_id=rec.user_id,
                on_behalf_of=_supervisor(r),
                eds_id=rec.eds_id,
                eds=await names.eds(rec.eds_id),
                partner_state=rec.partner_state,
                purpose=rec.purpose,
                date_range=(rec.range_start, rec.range_end),
                outcome=rec.outcome,
                records=rec.records,
            )
        )
    return Accounting(start, end, out, withheld)


def access_record(
    subject: Subject, *, actor: str, reason: str = "", client_id: str = "", count: int = 0
) -> AuditRecord:
    """The trail's record of someone reading an accounting (who, why, about whom: PHI, kept in the trail only)."""
    record = admin_record("audit-accounting", actor=actor, client_id=client_id, detail={"reason": reason})
    query = {k: v for k, v in (("family", subject.last), ("given", subject.first), ("birth_date", subject.dob)) if v}
    if subject.patient_id:
        query["patient_id"] = subject.patient_id
    return replace(
        record,
        query=orjson.dumps(query, option=orjson.OPT_SORT_KEYS).decode(),
        q_last=fold_name(subject.last),
        q_first=first_name_key(subject.first),
        q_dob=subject.dob,
        patients=orjson.dumps([subject.patient_id] if subject.patient_id else []).decode(),
        records=count,
    )


@dataclass(slots=True, frozen=True)
class UsageRow:
    key: str
    total: int
    outcomes: dict[str, int]

    def as_json(self) -> dict[str, Any]:
        return {"key": self.key, "total": self.total, "outcomes": dict(self.outcomes)}


@dataclass(slots=True, frozen=True)
class UsageReport:
    start: date | None
    end: date | None
    total: int
    outcomes: dict[str, int]
    by: dict[str, list[UsageRow]] = field(default_factory=dict)  # dimension → rows

    def as_json(self) -> dict[str, Any]:
        return {
            "period": {
                "from": self.start.isoformat() if self.start else None,
                "to": self.end.isoformat() if self.end else None,
            },
            "total": self.total,
            "outcomes": dict(self.outcomes),
            **{f"by_{dimension}": [row.as_json() for row in rows] for dimension, rows in self.by.items()},
        }

    def csv_rows(self) -> list[tuple[str, str, str, int]]:
        """(dimension, key, outcome, count), the dimension ``all`` first."""
        rows = [("all", "", outcome, n) for outcome, n in sorted(self.outcomes.items())]
        for dimension, found in self.by.items():
            rows += [(dimension, r.key, outcome, n) for r in found for outcome, n in sorted(r.outcomes.items())]
        return rows


async def usage(store: AuditStore, *, start: date | None = None, end: date | None = None) -> UsageReport:
    """Requests and outcomes per user, EDS, partner state and day in [start, end] (whole days, UTC)."""
    low, high = period_bounds(start, end)
    by: dict[str, list[UsageRow]] = {}
    totals: dict[str, int] = defaultdict(int)
    for dimension in USAGE_DIMENSIONS:
        grouped: dict[str, dict[str, int]] = defaultdict(dict)
        for key, outcome, n in await store.usage_counts(dimension, low, high):
            grouped[key][outcome] = n
            if dimension == "day":
                totals[outcome] += n
        by[dimension] = [UsageRow(k, sum(v.values()), v) for k, v in sorted(grouped.items())]
    return UsageReport(start, end, sum(totals.values()), dict(sorted(totals.items())), by)
