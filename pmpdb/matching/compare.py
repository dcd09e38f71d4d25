"""Field comparers: how far two normalised names, dates or places agree, as a level from `weights`.

Each returns a level in [0, 1], `MISSING` when a side is empty, or `MISMATCH` when both are given and
disagree. All are symmetric. Name comparisons are cached per pair because queries and candidates
repeat the same names.
"""

from __future__ import annotations

from functools import lru_cache

import jellyfish

from pmpdb.matching import weights as w
from pmpdb.matching.address import address_key
from pmpdb.matching.nicknames import canonical_names, is_known_name


@lru_cache(maxsize=16384)
def metaphone(name: str) -> str:
    """Metaphone of a name without spaces; the name itself when metaphone has nothing to say (digits)."""
    joined = name.replace(" ", "")
    return jellyfish.metaphone(joined) or joined


def _similar(a: str, b: str) -> bool:
    """A typo or the same sound: Jaro–Winkler above the floor or equal metaphone, both long enough."""
    if len(a) < w.SIMILAR_MIN_LENGTH or len(b) < w.SIMILAR_MIN_LENGTH:
        return False
    return jellyfish.jaro_winkler_similarity(a, b) >= w.JARO_WINKLER_MIN or metaphone(a) == metaphone(b)


def last_name_level(a: str, b: str) -> float:
    """Surname agreement: exact, reordered parts, compound part, similar, one shared part, or mismatch."""
    if not a or not b:
        return w.MISSING
    if a == b:
        return w.LAST_EXACT
    return _last_name_level(a, b) if a < b else _last_name_level(b, a)


@lru_cache(maxsize=16384)
def _last_name_level(a: str, b: str) -> float:
    joined_a, joined_b = a.replace(" ", ""), b.replace(" ", "")
    if joined_a == joined_b:
        return w.LAST_EXACT
    parts_a, parts_b = frozenset(a.split()), frozenset(b.split())
    if parts_a == parts_b:
        return w.LAST_REORDERED
    if parts_a < parts_b or parts_b < parts_a:
        return w.LAST_COMPOUND
    if _similar(joined_a, joined_b):
        return w.LAST_SIMILAR
    if not parts_a.isdisjoint(parts_b) or any(_similar(x, y) for x in parts_a for y in parts_b):
        return w.LAST_PART_SHARED
    return w.MISMATCH


def first_name_level(a: str, b: str) -> float:
    """Given-name agreement: exact, nickname, first word, similar (typo), initial, or mismatch."""
    if not a or not b:
        return w.MISSING
    if a == b:
        return w.FIRST_INITIAL if len(a) == 1 else w.FIRST_EXACT
    return _first_name_level(a, b) if a < b else _first_name_level(b, a)


@lru_cache(maxsize=16384)
def _first_name_level(a: str, b: str) -> float:
    if len(a) == 1 or len(b) == 1:
        return w.FIRST_INITIAL if a[0] == b[0] else w.MISMATCH
    joined_a, joined_b = a.replace(" ", ""), b.replace(" ", "")
    if joined_a == joined_b:
        return w.FIRST_EXACT
    if not canonical_names(a).isdisjoint(canonical_names(b)):
        return w.FIRST_NICKNAME
    words_a, words_b = a.split(), b.split()
    if (len(words_a) == 1) != (len(words_b) == 1) and words_a[0] == words_b[0]:
        return w.FIRST_FIRST_WORD
    if not (is_known_name(a) and is_known_name(b)) and _similar(joined_a, joined_b):
        return w.FIRST_SIMILAR
    return w.MISMATCH


def transposed_date(iso: str) -> str:
    """The date with day and month swapped, when both are ≤ 12 and differ; else ``""``."""
    if len(iso) != 10:
        return ""
    month, day = iso[5:7], iso[8:10]
    if month == day or int(month) > 12 or int(day) > 12:
        return ""
    return f"{iso[:4]}-{day}-{month}"


def birth_date_level(a: str, b: str) -> float:
    """Exact, day/month transposed, or `MISSING` for anything else (which rules the record out)."""
    if not a or not b:
        return w.MISSING
    if a == b:
        return w.DOB_EXACT
    return w.DOB_TRANSPOSED if transposed_date(a) == b else w.MISSING


def gender_level(a: str, b: str) -> float:
    """Agreement 1, unknown on either side `MISSING`, M versus F `MISMATCH`."""
    if a == "U" or b == "U":
        return w.MISSING
    return 1.0 if a == b else w.MISMATCH


def same_address(a: str, b: str) -> bool:
    """Both lines given and the same home by `address_key` (house number + street name)."""
    return bool(a) and bool(b) and (a == b or address_key(a) == address_key(b))


def address_conflict(a: str, b: str) -> bool:
    """Both lines given and different homes."""
    return bool(a) and bool(b) and a != b and address_key(a) != address_key(b)
