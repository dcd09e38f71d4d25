"""Patient matching: record linkage for the PMP, pure functions with no database and no I/O.

At ingest::

    d = normalize(last_name=..., first_name=..., birth_date=..., ...)   # a Demographics value
    rid = patient_record_id(d)          # stable 63-bit id: re-ingest is idempotent
    keys = blocking_keys(d)             # index rows (d.birth_date, key, rid)

At query::

    plan = query_plan(q)                # plan.birth_dates × plan.keys → candidate (rid, Demographics)
    decision = decide(q, candidates)    # FOUND / AMBIGUOUS / NOT_FOUND with persons

The algorithm, its weights and its limits: docs/patient-matching.md.
"""

from __future__ import annotations

from pmpdb.matching.decide import decide
from pmpdb.matching.group import same_person
from pmpdb.matching.keys import blocking_keys, patient_record_id, query_plan
from pmpdb.matching.model import (
    Demographics,
    InvalidDemographicsError,
    MatchDecision,
    MatchStatus,
    Person,
    QueryPlan,
)
from pmpdb.matching.normalize import normalize
from pmpdb.matching.score import score
from pmpdb.matching.weights import MARGIN, THRESHOLD

__all__ = [
    "MARGIN",
    "THRESHOLD",
    "Demographics",
    "InvalidDemographicsError",
    "MatchDecision",
    "MatchStatus",
    "Person",
    "QueryPlan",
    "blocking_keys",
    "decide",
    "normalize",
    "patient_record_id",
    "query_plan",
    "same_person",
    "score",
]
