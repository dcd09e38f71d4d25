"""Interstate answers in ``$pdmp-history``: which states to ask (in), and one answer merged from several PMPs (out).

**In: ``pdmp-states``.** The IG has no parameter for it, so this codec adds one (documented in docs/api.md and the
served OperationDefinition): ``{"name": "pdmp-states", "valueCode": "CO"}``, repeated once per partner state to
ask besides this one; one ``valueCode`` ``NONE`` asks this state only; none at all asks the default set for the
requester's role. A value that is not a two-letter USPS code or ``NONE`` is INVALID_REQUEST at that parameter.

**Out: a merged Bundle** (``response.sources`` set: the gateway asked partner states), as the IG's example 2 merges
two PDMPs: each state's records carry ``meta.source`` naming it — this PMP's FHIR base for ours, ``urn:pmp:state:XX``
for a partner's (the partner's own address is the gateway's configuration, not the answer's business) — and each
state's MedicationDispense entries reference the Patient entry of the person that state reported for that record
(example 2 has one Patient per PDMP): one Patient per distinct person a state reported — name, birth date, gender
and address as sent — never every record filed under the first record's person. (The gateway withholds a partner
record whose person is not the one asked, ``gateway.interstate.merge``; persons still differ in spelling.) A
state's pharmacies, prescribers and prescriptions are shared by its persons. MedicationDispense entries stay in the
merged order (newest fill first). A state whose part is missing — it timed out, failed, refused our requester or
deferred — adds an ``outcome`` issue as the IG's example 6 does: severity ``warning``, code ``incomplete``, the
state's PMIXStatusCode (``error``, ``disallowed``, ``deferred``) and a text naming the state.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, Final

from adapters.fhir._json import get_text
from adapters.fhir.outcome import issue
from adapters.fhir.parameters import PARAMETER, InputParameters
from adapters.fhir.resources import Entry, ResourceBuilder, matched_patient
from protos.pmp.v1 import pmp_pb2 as pb

Json = dict[str, Any]

STATES_PARAMETER: Final = "pdmp-states"
THIS_STATE_ONLY: Final = "NONE"
MAX_STATES: Final = 60
_STATE: Final = re.compile(r"[A-Z]{2}")
_PARTIAL: Final = frozenset({"error", "disallowed", "deferred"})
_STATES_AT: Final = PARAMETER.relabel(f"The {STATES_PARAMETER} parameter")


def read_states(inputs: InputParameters) -> list[str]:
    """The ``pdmp-states`` values, in order (upper case)."""
    states: list[str] = []
    for parameter, at in inputs.all:
        if parameter.get("name") != STATES_PARAMETER:
            continue
        where = at.relabel(f"The {STATES_PARAMETER} parameter")
        value = get_text(parameter, "valueCode", at, max_len=8).upper()
        if not (value == THIS_STATE_ONLY or _STATE.fullmatch(value)):
            raise where.error("must carry a valueCode: a two-letter USPS state code, or NONE")
        states.append(value)
    if len(states) > MAX_STATES:
        raise _STATES_AT.error(f"names more than {MAX_STATES} states")
    if THIS_STATE_ONLY in states and len(states) > 1:
        raise _STATES_AT.error("NONE (this state only) cannot be combined with state codes")
    return states


def state_source(state: str) -> str:
    """``meta.source`` of a partner state's records."""
    return f"urn:pmp:state:{state}"


def merged_entries(response: pb.SearchHistoryResponse, *, source: str, patient_id: str) -> list[Entry]:
    """The Bundle entries of a merged answer: every state's Patient, our alerts, the dispensations in the answer's
    order, then what they reference, each with its state's ``meta.source``."""
    own = response.sources[0].state if response.sources else ""
    builders: dict[str, ResourceBuilder] = {}
    people: list[Entry] = []  # a state's second and further persons' Patient entries
    subjects: dict[tuple[str, bytes], Json] = {}  # (state, the person as reported) → its Patient reference
    matches: list[Entry] = []
    for dispensation in response.dispensations:
        state = dispensation.source_state or own
        builder = builders.get(state)
        if state == own:
            if builder is None:
                builder = builders[state] = ResourceBuilder(source, patient_id, matched_patient(response))
                builder.add_alerts(response.alerts)
        else:  # the person as that state reported them for this record
            person = _reported_person(dispensation)
            key = (state, person.SerializeToString(deterministic=True))
            subject = subjects.get(key)
            if builder is None:
                builder = builders[state] = ResourceBuilder(state_source(state), "", person)
                subject = subjects[key] = builder.subject
            elif subject is None:  # another person: its own Patient, the state's pharmacies etc. shared
                count = sum(1 for known in subjects if known[0] == state) + 1
                other = ResourceBuilder(state_source(state), f"person-{count}", person)
                people.append(other.patient_entry)
                subject = subjects[key] = other.subject
            builder.subject = subject
        builder.add(dispensation)
        matches.append(builder.matches[-1])
    entries: list[Entry] = [b.patient_entry for b in builders.values()]
    entries.extend(people)
    for builder in builders.values():
        entries.extend(builder.alerts)
    entries.extend(matches)
    for builder in builders.values():
        entries.extend(builder.includes)
    return entries


def _reported_person(d: pb.Dispensation) -> pb.MatchedPatient:
    return pb.MatchedPatient(
        name=d.patient_name, birth_date=d.patient_birth_date, gender=d.patient_gender, address=d.patient_address
    )


def counts_text(response: pb.SearchHistoryResponse) -> str:
    """``UT 3, CO 2`` — how many dispensations each state gave."""
    return ", ".join(f"{s.state} {s.dispensations}" for s in response.sources)


def partial_issues(response: pb.SearchHistoryResponse, *, skip_own_deferred: bool = False) -> Iterator[Json]:
    """One warning (IG example 6) per state whose part of the answer is missing."""
    for index, source in enumerate(response.sources):
        if source.status not in _PARTIAL or (index == 0 and skip_own_deferred and source.status == "deferred"):
            continue
        yield issue("warning", "incomplete", source.status, partial_text(source))


def partial_text(source: pb.SourceOutcome) -> str:
    why = f" ({source.detail})" if source.detail else ""
    if source.status == "disallowed":
        what = f"the {source.state} PMP does not disclose its records to this requester{why}"
    elif source.status == "deferred":
        what = f"the {source.state} PMP deferred its answer{why}"
    else:
        what = f"the {source.state} PMP did not answer{why}"
    return f"Incomplete results: {what}. The history does not include that state's dispensations."
