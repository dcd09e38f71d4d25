"""The labelled set (matching_cases.json) run the way the store runs it: plan → fetch by keys → decide.

Pairs: two records of the same or of different people. For "same" pairs we measure two recalls:
*link* (the query built from one record finds the other when it is the only one on file) and *merge*
(with both on file, they come back as one person). For "different" pairs there must be no false
merge (never one person) and no false match (querying one never FOUNDs the other's record).
Scenarios: several records on file, an expected status and, for FOUND, exactly which records.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pmpdb.matching import (
    Demographics,
    MatchDecision,
    MatchStatus,
    blocking_keys,
    decide,
    normalize,
    query_plan,
    same_person,
)

CASES: dict[str, Any] = json.loads(Path(__file__).with_name("matching_cases.json").read_text("utf-8"))
PAIRS: list[dict[str, Any]] = CASES["pairs"]
SCENARIOS: list[dict[str, Any]] = CASES["scenarios"]
FIELDS = {
    "last": "last_name", "first": "first_name", "middle": "middle_name", "suffix": "suffix",
    "dob": "birth_date", "gender": "gender", "address": "address", "city": "city", "state": "state",
    "zip": "zip_code", "phone": "phone",
}  # fmt: skip

# Measured on this set: 46/50 linked, 41/50 merged (docs/patient-matching.md). Lowering them needs a reason.
LINK_RECALL_MIN = 0.92
MERGE_RECALL_MIN = 0.82


def demographics(raw: dict[str, str]) -> Demographics:
    return normalize(**{FIELDS[k]: v for k, v in raw.items() if k in FIELDS})


def search(q: Demographics, on_file: list[tuple[int, Demographics]]) -> MatchDecision:
    """What the store does: fetch rows matching the plan's (birth date, key) pairs, then decide."""
    plan = query_plan(q)
    fetched = [(rid, d) for rid, d in on_file if d.birth_date in plan.birth_dates and blocking_keys(d) & plan.keys]
    return decide(q, fetched)


def merged(decision: MatchDecision, *ids: int) -> bool:
    return any(set(ids) <= set(p.record_ids) for p in decision.persons)


def found(decision: MatchDecision, rid: int) -> bool:
    return decision.status is MatchStatus.FOUND and rid in decision.persons[0].record_ids


def test_the_set_is_big_enough() -> None:
    assert len(PAIRS) >= 40
    assert len({p["id"] for p in PAIRS} | {s["id"] for s in SCENARIOS}) == len(PAIRS) + len(SCENARIOS)
    assert sum(p["truth"] == "different" for p in PAIRS) >= 15


def test_no_false_merge_and_no_false_match_between_different_people() -> None:
    errors = []
    for pair in (p for p in PAIRS if p["truth"] == "different"):
        a, b = demographics(pair["a"]), demographics(pair["b"])
        both = [(1, a), (2, b)]
        for query, other in ((a, 2), (b, 1)):
            decision = search(query, both)
            if merged(decision, 1, 2):
                errors.append(f"{pair['id']}: merged")
            if found(decision, other):
                errors.append(f"{pair['id']}: query of one found the other")
        if same_person(a, b):
            errors.append(f"{pair['id']}: same_person")
        alone = search(a, [(2, b)]).status is MatchStatus.FOUND
        if alone != (pair.get("alone") == "found"):
            errors.append(f"{pair['id']}: with only the other on file, found={alone}")
    assert errors == []


def recalls() -> tuple[float, float, list[str], list[str]]:
    same = [p for p in PAIRS if p["truth"] == "same"]
    link_missed, merge_missed = [], []
    for pair in same:
        a, b = demographics(pair["a"]), demographics(pair["b"])
        if not found(search(a, [(2, b)]), 2):
            link_missed.append(pair["id"])
        if not (found(search(a, [(1, a), (2, b)]), 2) and merged(search(a, [(1, a), (2, b)]), 1, 2)):
            merge_missed.append(pair["id"])
    n = len(same)
    return 1 - len(link_missed) / n, 1 - len(merge_missed) / n, link_missed, merge_missed


def test_recall_on_same_person_pairs() -> None:
    link, merge, link_missed, merge_missed = recalls()
    print(f"link recall {link:.3f} missed {link_missed}\nmerge recall {merge:.3f} missed {merge_missed}")
    assert link >= LINK_RECALL_MIN, link_missed
    assert merge >= MERGE_RECALL_MIN, merge_missed
    # Exactly the misses the documentation promises: "miss-…" ones, and for merging the "kept apart" ones.
    same = [p for p in PAIRS if p["truth"] == "same"]
    assert link_missed == [p["id"] for p in same if p["id"].startswith("miss-")]
    assert sorted(merge_missed) == sorted(
        p["id"] for p in same if p["id"].startswith("miss-") or p.get("merge") == "kept apart"
    )


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s["id"] for s in SCENARIOS])
def test_scenario(scenario: dict[str, Any]) -> None:
    records = [(100 + i, demographics(r)) for i, r in enumerate(scenario["records"])]
    truth = {100 + i: r["person"] for i, r in enumerate(scenario["records"])}
    decision = search(demographics(scenario["query"]), records)

    for person in decision.persons:  # never two people (or an unknown "?") in one person
        labels = {truth[rid] for rid in person.record_ids}
        assert len(labels) == 1, person
        assert "?" not in labels or len(person.record_ids) == 1, person
    assert decision.status.name == scenario["expect"]
    if decision.status is MatchStatus.FOUND:
        assert decision.persons[0].record_ids == tuple(100 + i for i in scenario["expect_records"])
