"""Which candidate records are one person: a strict same-person test and a clustering that never guesses.

Merging two people's records discloses one patient's prescriptions as another's, so the test is
stricter than the query score: same birth date, equivalent names, no conflicting gender, suffix or
middle initial, and compatible places. The clustering is union-find with complete linkage (a merge
must fit every member, so "Alex" cannot bridge Alexander and Alexandra), and a record that would fit
two clusters just as well is split off on its own rather than given to either.
"""

from __future__ import annotations

from collections.abc import Sequence

from pmpdb.matching import weights as w
from pmpdb.matching.compare import (
    address_conflict,
    first_name_level,
    last_name_level,
    same_address,
)
from pmpdb.matching.model import Demographics
from pmpdb.matching.score import score


def _conflict(a: str, b: str) -> bool:
    return bool(a) and bool(b) and a != b


def location_compatible(a: Demographics, b: Demographics) -> bool:
    """Could live at one place: same phone; same street in the same city (ZIP typo); or nothing conflicts.

    "Nothing conflicts": no two different ZIPs, street lines or states, and no two different cities
    unless the ZIP agrees. A side without a field cannot conflict on it.
    """
    if a.phone and a.phone == b.phone:
        return True
    if _conflict(a.state, b.state) or address_conflict(a.address, b.address):
        return False
    if _conflict(a.zip_code, b.zip_code):  # forgiven only as a typo: same street, same city
        return same_address(a.address, b.address) and bool(a.city) and a.city == b.city
    return not _conflict(a.city, b.city) or (bool(a.zip_code) and a.zip_code == b.zip_code)


def _shared_place(a: Demographics, b: Demographics) -> bool:
    """Positive evidence of one home (on top of `location_compatible`): same phone, street or ZIP."""
    return (
        (bool(a.phone) and a.phone == b.phone)
        or same_address(a.address, b.address)
        or (bool(a.zip_code) and a.zip_code == b.zip_code)
    )


def same_person(a: Demographics, b: Demographics) -> bool:
    """Whether two records are one human being (symmetric; never true across birth dates).

    Names must be equivalent: surnames exact, reordered or compound (GARCIA / GARCIA LOPEZ); given
    names exact, nickname or first word (MARY / MARY ANN). A typo in either name is accepted only with
    positive evidence of one home (`_shared_place`). An initial never joins a full given name.
    """
    if not a.birth_date or a.birth_date != b.birth_date:
        return False
    if (a.gender != b.gender and a.gender != "U" and b.gender != "U") or _conflict(a.suffix, b.suffix):
        return False
    if a.middle_name and b.middle_name and a.middle_name[0] != b.middle_name[0]:
        return False
    last = last_name_level(a.last_name, b.last_name)
    if last < w.LAST_SIMILAR:
        return False
    first = first_name_level(a.first_name, b.first_name)
    if first < w.FIRST_SIMILAR or not location_compatible(a, b):
        return False
    return (last >= w.LAST_COMPOUND and first >= w.FIRST_FIRST_WORD) or _shared_place(a, b)


def cluster(records: Sequence[Demographics]) -> tuple[list[list[int]], frozenset[int]]:
    """Partition record indexes into persons; deterministic for a given order of ``records``.

    Connected components of the same-person graph that are cliques are persons as they are. Otherwise
    pairs are merged strongest first (their mutual `score`, then index), only when every member of
    one cluster is `same_person` with every member of the other; afterwards a record that is
    `same_person` with all of another cluster too is *contested*: it becomes a person of its own, and
    its index is in the returned set.
    """
    n = len(records)
    compatible: set[tuple[int, int]] = set()
    neighbours: list[set[int]] = [set() for _ in range(n)]
    for i in range(n):
        for j in range(i + 1, n):
            if same_person(records[i], records[j]):
                compatible.add((i, j))
                neighbours[i].add(j)
                neighbours[j].add(i)
    if not compatible:
        return [[i] for i in range(n)], frozenset()
    components = _components(neighbours)
    if all(len(neighbours[i]) == len(c) - 1 for c in components for i in c):
        return sorted(sorted(c) for c in components), frozenset()  # all cliques: nothing to decide

    def fits(x: int, y: int) -> bool:
        return (x, y) in compatible if x < y else (y, x) in compatible

    edges = sorted((-score(records[i], records[j]), i, j) for i, j in compatible)
    owner = list(range(n))
    members: dict[int, list[int]] = {i: [i] for i in range(n)}
    for _, i, j in edges:
        ci, cj = owner[i], owner[j]
        if ci == cj or not all(fits(x, y) for x in members[ci] for y in members[cj]):
            continue
        for y in members[cj]:
            owner[y] = ci
        members[ci].extend(members.pop(cj))

    clusters = list(members.values())
    contested = frozenset(
        r
        for group in clusters
        if len(group) > 1
        for r in group
        if any(other is not group and all(fits(r, y) for y in other) for other in clusters)
    )
    persons = [sorted(r for r in group if r not in contested) for group in clusters]
    persons = [p for p in persons if p] + [[r] for r in sorted(contested)]
    return sorted(persons), contested


def _components(neighbours: list[set[int]]) -> list[list[int]]:
    """Connected components of the same-person graph (union-find)."""
    parent = list(range(len(neighbours)))

    def root(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for i, adjacent in enumerate(neighbours):
        for j in adjacent:
            parent[root(j)] = root(i)
    groups: dict[int, list[int]] = {}
    for i in range(len(neighbours)):
        groups.setdefault(root(i), []).append(i)
    return list(groups.values())
