"""The values patient matching hands to the store: normalised demographics, query plans and decisions.

All are frozen, slotted dataclasses so they are cheap, hashable and safe to share between requests.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class InvalidDemographicsError(ValueError):
    """A demographic field cannot be understood (e.g. a birth date that is not a calendar date)."""


@dataclass(frozen=True, slots=True)
class Demographics:
    """One patient as one source reported them, after `normalize`.

    Every field is upper-case ASCII text; ``""`` means "not given". ``gender`` is ``M``, ``F`` or ``U``,
    ``birth_date`` is ISO ``YYYY-MM-DD``, ``zip_code`` five digits, ``phone`` ten digits, ``suffix`` one of
    ``JR SR II III IV V``. Surname parts (hyphenated / compound surnames) are separated by one space.
    Build it with `normalize`; the constructor is for the store re-loading values it already normalised.
    """

    last_name: str
    first_name: str
    birth_date: str
    middle_name: str = ""
    suffix: str = ""
    gender: str = "U"
    address: str = ""
    city: str = ""
    state: str = ""
    zip_code: str = ""
    phone: str = ""


@dataclass(frozen=True, slots=True)
class QueryPlan:
    """What the store looks up for a query: rows whose (birth_date, key) is in ``birth_dates × keys``."""

    birth_dates: tuple[str, ...]
    keys: frozenset[str]


class MatchStatus(enum.Enum):
    """The outcome of a patient search (mirrors ``pmp.v1.MatchStatus``)."""

    FOUND = "found"
    AMBIGUOUS = "ambiguous"
    NOT_FOUND = "not_found"


@dataclass(frozen=True, slots=True)
class Person:
    """Records judged to be one human being, with the best score any of them got against the query."""

    record_ids: tuple[int, ...]
    score: float
    demographics: Demographics


@dataclass(frozen=True, slots=True)
class MatchDecision:
    """FOUND: ``persons == (the match,)``; AMBIGUOUS: the competing persons, best first; NOT_FOUND: ``()``."""

    status: MatchStatus
    persons: tuple[Person, ...]

    @property
    def match(self) -> Person | None:
        """The matched person when FOUND, else None."""
        return self.persons[0] if self.status is MatchStatus.FOUND else None
