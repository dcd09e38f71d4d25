"""Our answer and the partner states' answers as one ``pb.SearchHistoryResponse``.

* **whose records** — a partner's record is kept only when its patient is the person asked: the same birth date and
  the same family name folded as the audit folds it (``gateway.audit.record.fold_name``: case, accents,
  punctuation). The person asked is the query's demographics, or — for a query by an earlier answer's patient id —
  the one person we matched. Any other record is withheld and counted in that state's detail ("2 records for
  another person withheld"): a partner's matcher is not ours, and its mistakes must not reach our user. A record
  without patient demographics cannot be checked and is withheld too;
* **how many** — at most ``max_records`` records per partner (the gateway's ``search_max_page_size``), newest
  first; the state's detail then says "more exist: narrow the period";
* **ids** — each partner record gets a stable id unique in the answer (``XX-`` and a hash of its Rx number, fill
  date, refill, NDC and pharmacy; a counter breaks ties): PMIX records carry none, and a FHIR partner's own ids may
  repeat ours or another state's;
* **dispensations** — ours, then each partner's with ``source_state`` set to that partner, ordered newest fill
  first (a stable sort: on the same day ours come first, then the partners in the order asked);
* **sources** — one ``SourceOutcome`` per state asked, ours first: a partner that failed is listed with status
  ``error`` (or ``disallowed`` / ``deferred``) and a one-line detail, never left out;
* **match status** — ours, except when we found nobody (or several people) and a partner returned dispensations
  for the person asked: the answer is then FOUND with the partners' records only; our ambiguous candidates are
  dropped (an ambiguous match discloses no candidate) and our part says ``deferred``;
* **total** — our total in the period plus the partner records kept.

Clinical indicators and alerts stay ours: pmpdb computes them over this state's fills only (documented in
docs/architecture.md).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Final

from gateway.audit.record import fold_name
from gateway.interstate.answer import PartnerAnswer, PmixStatus
from protos.pmp.v1 import pmp_pb2 as pb

_NEWEST_FIRST = attrgetter("date_filled")
MORE_EXIST: Final = "more exist: narrow the period"


@dataclass(frozen=True, slots=True)
class AskedPerson:
    """Who the query is about, as partner records are checked: folded family name and birth date."""

    family: str
    birth_date: str

    @classmethod
    def of(cls, query: pb.PatientQuery, response: pb.SearchHistoryResponse) -> AskedPerson | None:
        """From the query's demographics, else from the one person we matched; None when neither says."""
        family, born = fold_name(query.name.family), query.birth_date
        if (not family or not born) and response.match_status == pb.MATCH_STATUS_FOUND and len(response.patients) == 1:
            ours = response.patients[0]
            family, born = family or fold_name(ours.name.family), born or ours.birth_date
        return cls(family, born) if family and born else None

    def is_subject_of(self, dispensation: pb.Dispensation) -> bool:
        return (
            dispensation.patient_birth_date == self.birth_date
            and fold_name(dispensation.patient_name.family) == self.family
        )


def own_status(response: pb.SearchHistoryResponse) -> PmixStatus:
    status = response.match_status
    if status == pb.MATCH_STATUS_FOUND:
        return PmixStatus.COMPLETE if response.dispensations else PmixStatus.NO_DATA
    if status == pb.MATCH_STATUS_AMBIGUOUS:
        return PmixStatus.DEFERRED
    return PmixStatus.NO_DATA


def record_id(state: str, d: pb.Dispensation) -> str:
    """A partner record's id: the same record gets the same id in every answer."""
    pharmacy = d.pharmacy.npi or d.pharmacy.ncpdp or d.pharmacy.dea or d.pharmacy.name
    key = "\x1f".join((d.rx_number, d.date_filled, str(d.refill_number), d.ndc, pharmacy))
    return f"{state}-{hashlib.sha256(key.encode()).hexdigest()[:20]}"


def _kept(
    answer: PartnerAnswer, person: AskedPerson | None, max_records: int
) -> tuple[list[pb.Dispensation], list[str]]:
    """``answer``'s records that may be shown, labelled and given ids, and what its detail must add."""
    records = [d for d in answer.dispensations if person is not None and person.is_subject_of(d)]
    notes: list[str] = []
    withheld = len(answer.dispensations) - len(records)
    if withheld:
        notes.append(f"{withheld} record{'s' if withheld > 1 else ''} for another person withheld")
    if len(records) > max_records:
        records.sort(key=_NEWEST_FIRST, reverse=True)
        del records[max_records:]
        notes.append(MORE_EXIST)
    seen: set[str] = set()
    for dispensation in records:  # the client's own messages: labelled in place
        dispensation.source_state = answer.state
        base = identifier = record_id(answer.state, dispensation)
        tie = 1
        while identifier in seen:
            tie += 1
            identifier = f"{base}-{tie}"
        seen.add(identifier)
        dispensation.id = identifier
    return records, notes


def merge(
    response: pb.SearchHistoryResponse,
    answers: Sequence[PartnerAnswer],
    *,
    own_state: str,
    query: pb.PatientQuery,
    max_records: int,
) -> None:
    """Merge ``answers`` (to ``query``) into our ``response`` (in place)."""
    ours = pb.SourceOutcome(state=own_state, status=own_status(response), dispensations=len(response.dispensations))
    if ours.status == PmixStatus.DEFERRED:
        ours.detail = "more than one person matches; manual review needed"
    person = AskedPerson.of(query, response)
    sources = [ours]
    theirs: list[pb.Dispensation] = []
    for answer in answers:
        records, notes = _kept(answer, person, max_records)
        status = answer.status
        if status is PmixStatus.COMPLETE and not records:
            status = PmixStatus.NO_DATA
        sources.append(
            pb.SourceOutcome(
                state=answer.state,
                status=status.value,
                detail="; ".join(filter(None, (answer.detail, *notes))),
                dispensations=len(records),
            )
        )
        theirs.extend(records)
    if theirs:
        if response.match_status != pb.MATCH_STATUS_FOUND:
            response.match_status = pb.MATCH_STATUS_FOUND
            del response.patients[:]
        merged = [*response.dispensations, *theirs]
        merged.sort(key=_NEWEST_FIRST, reverse=True)
        del response.dispensations[:]
        response.dispensations.extend(merged)
        response.total_dispensations += len(theirs)
    response.sources.extend(sources)
