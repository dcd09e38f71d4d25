"""Identifiers and index keys the store keeps next to each patient record, and the lookups a query makes.

The store indexes rows (birth_date, key, record_id). A query looks up its birth date (and the
day/month transposition) under each of its keys, so a candidate is fetched when it shares the birth
date and either a surname sound or a given-name sound: a typo in one name is still found through the
other. A typo in both names at once is not (documented limit).
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

from pmpdb.matching.compare import metaphone, transposed_date
from pmpdb.matching.model import Demographics, QueryPlan
from pmpdb.matching.nicknames import canonical_names

_ID_MASK = (1 << 63) - 1
_ID_PERSON = b"pmpdb.patient.v1"  # blake2b personalisation: bump if normalisation changes meaning


def patient_record_id(d: Demographics) -> int:
    """Stable positive 63-bit id of normalised demographics: same demographics, same id, in any process.

    blake2b over every field (unit-separated), not ``hash()``, which is salted per process.
    """
    text = "\x1f".join(
        (
            d.last_name, d.first_name, d.middle_name, d.suffix, d.birth_date, d.gender,
            d.address, d.city, d.state, d.zip_code, d.phone,
        )
    )  # fmt: skip
    digest = hashlib.blake2b(text.encode(), digest_size=8, person=_ID_PERSON).digest()
    return (int.from_bytes(digest, "big") & _ID_MASK) or 1


@lru_cache(maxsize=16384)
def _surname_keys(last_name: str) -> frozenset[str]:
    if not last_name:
        return frozenset()
    return frozenset({"L:" + metaphone(last_name), *("L:" + metaphone(part) for part in last_name.split())})


@lru_cache(maxsize=16384)
def _given_name_keys(first_name: str) -> frozenset[str]:
    if not first_name:
        return frozenset()
    names = {first_name, first_name.split()[0]}
    return frozenset("F:" + metaphone(c) for name in names for c in canonical_names(name))


def blocking_keys(d: Demographics) -> frozenset[str]:
    """Index keys: ``L:`` + metaphone of the whole surname and of each part; ``F:`` + metaphone of each
    formal name the given name may stand for (BILL → F:WLM, the key of WILLIAM) and of its first word.
    """
    return _surname_keys(d.last_name) | _given_name_keys(d.first_name)


def query_plan(q: Demographics) -> QueryPlan:
    """Birth dates to look up (the exact one, then its day/month transposition) and the keys.

    Without a birth date there is nothing to look up: a birth date is required to search.
    """
    if not q.birth_date:
        return QueryPlan(birth_dates=(), keys=frozenset())
    swapped = transposed_date(q.birth_date)
    dates = (q.birth_date, swapped) if swapped else (q.birth_date,)
    return QueryPlan(birth_dates=dates, keys=blocking_keys(q))
