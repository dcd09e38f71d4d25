"""The answer to a patient search: one person (FOUND), several that the query cannot tell apart
(AMBIGUOUS), or nobody above the threshold (NOT_FOUND).

Tuned against false positives, like RxCheck's "not found when a guaranteed match cannot be made":
a person is FOUND only when it beats every other person by `MARGIN`.
"""

from __future__ import annotations

from collections.abc import Sequence

from pmpdb.matching.group import cluster, same_person
from pmpdb.matching.model import Demographics, MatchDecision, MatchStatus, Person
from pmpdb.matching.score import score
from pmpdb.matching.weights import MARGIN, THRESHOLD

NOT_FOUND = MatchDecision(MatchStatus.NOT_FOUND, ())


def decide(q: Demographics, candidates: Sequence[tuple[int, Demographics]]) -> MatchDecision:
    """Score every candidate record, group the records into persons and decide.

    ``candidates`` are (record id, demographics) pairs as the store fetched them by `query_plan`; order
    and duplicate ids do not matter. A person's score is its best record's score, and its
    representative demographics are that record's. FOUND when no other person comes within `MARGIN`
    of the best; AMBIGUOUS lists the best and those within `MARGIN` of it.
    """
    records = sorted(dict(candidates).items())
    scores = [score(q, d) for _, d in records]
    birth_dates = {d.birth_date for (_, d), s in zip(records, scores, strict=True) if s >= THRESHOLD}
    if not birth_dates:
        return NOT_FOUND

    # Records of another birth date can never join a person; leave them out of the clustering.
    kept = [i for i, (_, d) in enumerate(records) if d.birth_date in birth_dates]
    groups, contested = cluster([records[i][1] for i in kept])
    persons: list[tuple[Person, list[int], bool]] = []
    for group in groups:
        members = [kept[g] for g in group]
        best = max(members, key=lambda i: (scores[i], -records[i][0]))
        if scores[best] >= THRESHOLD:
            ids = tuple(sorted(records[i][0] for i in members))
            person = Person(record_ids=ids, score=scores[best], demographics=records[best][1])
            persons.append((person, members, group[0] in contested))

    persons.sort(key=lambda p: (-p[0].score, p[2], p[0].record_ids[0]))  # ties: resolved persons first
    top, top_members, _ = persons[0]
    competing = [top]
    for person, members, is_contested in persons[1:]:
        if round(top.score - person.score, 6) >= MARGIN:
            break
        # A record that fits the top person and another one is an unresolved fragment, not a rival:
        # it is left out of the answer rather than allowed to block it.
        if is_contested and all(same_person(records[members[0]][1], records[m][1]) for m in top_members):
            continue
        competing.append(person)
    if len(competing) == 1:
        return MatchDecision(MatchStatus.FOUND, (top,))
    return MatchDecision(MatchStatus.AMBIGUOUS, tuple(competing))
