"""Given-name knowledge: nickname → formal name (``nicknames.csv``) and the names we know are real.

Bill and William are one person's name; Jayden and Jaylen are two people's (twins are often named
alike), even though one letter separates them. The first table makes the former agree; the set of
known names (both tables) stops the typo rule from calling the latter the same.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from functools import lru_cache
from importlib import resources


def _rows(filename: str) -> Iterator[list[str]]:
    text = resources.files("pmpdb.matching").joinpath(filename).read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    reader = csv.reader(lines)
    next(reader)  # header
    yield from reader


def _load_nicknames() -> dict[str, frozenset[str]]:
    table: dict[str, set[str]] = {}
    for name, canonical in _rows("nicknames.csv"):
        table.setdefault(name, set()).add(canonical)
    return {name: frozenset(canonicals) for name, canonicals in table.items()}


NICKNAMES: dict[str, frozenset[str]] = _load_nicknames()
"""Nickname or spelling variant → the formal names it may stand for (``PAT`` → PATRICIA, PATRICK)."""

KNOWN_NAMES: frozenset[str] = frozenset(
    {*NICKNAMES, *(c for cs in NICKNAMES.values() for c in cs), *(row[0] for row in _rows("given_names.csv"))}
)
"""Every given name either table names; two different known names are never a typo of each other."""


@lru_cache(maxsize=16384)
def canonical_names(first_name: str) -> frozenset[str]:
    """The name itself plus every formal name it may be short for; spaces are ignored (MARY ANN = MARYANN)."""
    name = first_name.replace(" ", "")
    return NICKNAMES.get(name, frozenset()) | {name}


@lru_cache(maxsize=16384)
def is_known_name(first_name: str) -> bool:
    """Whether every word is a given name we know (so a one-letter difference is a different name)."""
    return first_name.replace(" ", "") in KNOWN_NAMES or all(w in KNOWN_NAMES for w in first_name.split())


def nickname_equivalent(a: str, b: str) -> bool:
    """Whether two normalised given names may name the same person: they share a canonical name."""
    return not canonical_names(a).isdisjoint(canonical_names(b))
