"""Demo people, and the ways pharmacies write their names down.

Each person has one true identity (a name, a DOB, a sex and an address). Each pharmacy records it in its
own way. A pharmacy system may upper-case everything, be limited to ASCII, or keep only a middle initial.
A patient may give a nickname at one counter and not at another. Some systems drop the apostrophe or the
hyphen. All of these are variants a careful matcher should join: the DOB and the address never change.
We also make pairs of distinct people who share a name and a DOB and live at different addresses. A query
without a ZIP must come back ambiguous for them, not merge them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from pmpdb.demo.names import (
    FEMALE_FIRST_NAMES,
    LAST_NAMES,
    MALE_FIRST_NAMES,
    MIDDLE_NAMES_FEMALE,
    MIDDLE_NAMES_MALE,
    NAMED_STREETS,
    NICKNAMES,
    UTAH_CITIES,
    fold_diacritics,
    name_key,
)

# Variant kinds, as recorded in the ground truth.
NICKNAME = "nickname"
CASE = "case"
PUNCTUATION = "punctuation"
MIDDLE_INITIAL = "middle_initial"
MIDDLE_ABSENT = "middle_absent"
DIACRITICS = "diacritics"
VARIANT_KINDS = (NICKNAME, CASE, PUNCTUATION, MIDDLE_INITIAL, MIDDLE_ABSENT, DIACRITICS)

_GRID_DIRECTIONS = ("N", "S", "E", "W")


@dataclass(slots=True, frozen=True)
class Address:
    """A US street address (ZIP is five digits)."""

    line1: str
    city: str
    state: str
    zip: str


@dataclass(slots=True, frozen=True)
class Person:
    """A patient's true identity: what a prescriber would type into a PMP query."""

    person_id: str
    first_name: str
    middle_name: str
    last_name: str
    birth_date: date
    gender: str  # F / M
    address: Address


@dataclass(slots=True, frozen=True)
class RecordedName:
    """How one pharmacy (``Pharmacy.key``) wrote a person's name, and which variants that involved."""

    pharmacy: str
    first_name: str
    middle_name: str
    last_name: str
    variants: tuple[str, ...]


@dataclass(slots=True, frozen=True)
class PharmacyStyle:
    """A pharmacy system's habits, applied to every patient it records."""

    upper_case: bool
    ascii_only: bool
    middle: str  # "full", "initial" or "none"


def draw_style(rng: random.Random) -> PharmacyStyle:
    """Half of pharmacy systems shout in capitals; a third cannot store accents."""
    middle = rng.choices(("full", "initial", "none"), weights=(4, 4, 2))[0]
    return PharmacyStyle(upper_case=rng.random() < 0.5, ascii_only=rng.random() < 0.35, middle=middle)


def draw_address(rng: random.Random, *, avoid_city: str = "") -> Address:
    """A Utah address: grid style (``1234 E 3300 S``) or a named street."""
    city, zips = rng.choice([c for c in UTAH_CITIES if c[0] != avoid_city])
    number = rng.randint(10, 14_999)
    if rng.random() < 0.6:
        line1 = f"{number} {rng.choice(_GRID_DIRECTIONS)} {rng.randint(1, 98) * 100} {rng.choice(_GRID_DIRECTIONS)}"
    else:
        line1 = f"{number} {rng.choice(NAMED_STREETS)}"
    return Address(line1=line1, city=city, state="UT", zip=rng.choice(zips))


def name_tokens(first_name: str) -> set[str]:
    """The forms under which a first name may appear: itself and its nicknames."""
    return {name_key(first_name), *(name_key(n) for n in NICKNAMES.get(first_name, ()))}


def _has_diacritics(*parts: str) -> bool:
    return any(fold_diacritics(p) != p for p in parts)


def _has_punctuation(last_name: str) -> bool:
    return any(c in last_name for c in "'- ")


# What the first people must show, so that every variant kind appears whatever the seed.
_SHOWCASE = ("nickname", "diacritics", "apostrophe", "hyphen", "space")
SHOWCASE_COUNT = len(_SHOWCASE)  # the first people: each shows one name variant


def _showcase_ok(kind: str, first: str, last: str) -> bool:
    if kind == "nickname":
        return first in NICKNAMES
    if kind == "diacritics":
        return _has_diacritics(first, last)
    if kind == "apostrophe":
        return "'" in last
    if kind == "hyphen":
        return "-" in last
    return " " in last


def showcase_variant(index: int) -> str | None:
    """The variant kind forced on person ``index`` at their first pharmacy (None for most people)."""
    if index >= len(_SHOWCASE):
        return None
    kind = _SHOWCASE[index]
    return NICKNAME if kind == "nickname" else DIACRITICS if kind == "diacritics" else PUNCTUATION


def make_people(
    rng: random.Random, count: int, pairs: int, *, latest_birth: date
) -> tuple[list[Person], dict[str, str]]:
    """``count`` people: ``count - pairs`` distinct identities plus ``pairs`` same-name-same-DOB twins.

    Returns the people and, for each member of a pair, its group id (``G01``…). No two distinct
    identities collide on (first name or nickname, last name, DOB), so the only ambiguity in the
    data is the deliberate one.
    """
    base = count - pairs
    taken: set[tuple[str, str, date]] = set()
    people: list[Person] = []
    earliest = date(1935, 1, 1)
    span = (latest_birth - earliest).days
    for index in range(base):
        want = _SHOWCASE[index] if index < len(_SHOWCASE) else None
        for _ in range(1000):
            gender = rng.choice("FM")
            firsts = FEMALE_FIRST_NAMES if gender == "F" else MALE_FIRST_NAMES
            first, last = rng.choice(firsts), rng.choice(LAST_NAMES)
            if want is not None and not _showcase_ok(want, first, last):
                continue
            birth = earliest + timedelta(days=rng.randint(0, span))
            keys = {(t, name_key(last), birth) for t in name_tokens(first)}
            if keys & taken:
                continue
            break
        else:  # pragma: no cover - 1000 draws never all collide with these list sizes
            raise RuntimeError("could not draw a distinct demo identity")
        taken |= keys
        middles = MIDDLE_NAMES_FEMALE if gender == "F" else MIDDLE_NAMES_MALE
        middle = rng.choice(middles) if rng.random() < 0.8 else ""
        people.append(Person(f"P{index + 1:05d}", first, middle, last, birth, gender, draw_address(rng)))
    sources = rng.sample(range(len(_SHOWCASE), base) if base > len(_SHOWCASE) + pairs else range(base), pairs)
    groups: dict[str, str] = {}
    for n, source_index in enumerate(sorted(sources)):
        source = people[source_index]
        twin_id = f"P{base + n + 1:05d}"
        groups[source.person_id] = groups[twin_id] = f"G{n + 1:02d}"
        middles = MIDDLE_NAMES_FEMALE if source.gender == "F" else MIDDLE_NAMES_MALE
        other_middles = [m for m in middles if m != source.middle_name]
        people.append(
            Person(
                twin_id,
                source.first_name,
                rng.choice(other_middles) if rng.random() < 0.7 else "",
                source.last_name,
                source.birth_date,
                source.gender,
                draw_address(rng, avoid_city=source.address.city),
            )
        )
    return people, groups


def _punctuation_variant(rng: random.Random, last_name: str) -> str:
    """``O'Brien`` → ``OBrien`` / ``O Brien``; ``Garcia-Lopez`` → ``Garcia Lopez`` / ``GarciaLopez``."""
    if "'" in last_name or "-" in last_name:
        joiner = rng.choice(("", " "))
        return last_name.replace("'", joiner).replace("-", joiner)
    return last_name.replace(" ", "")


def record_name(
    rng: random.Random,
    person: Person,
    pharmacy_key: str,
    style: PharmacyStyle,
    *,
    force: str | None = None,
) -> RecordedName:
    """How the pharmacy with ``style`` writes ``person``'s name; ``force`` guarantees one variant kind."""
    variants: list[str] = []
    first, middle, last = person.first_name, person.middle_name, person.last_name
    nicknames = NICKNAMES.get(first, ())
    if nicknames and (force == NICKNAME or rng.random() < 0.2):
        first = rng.choice(nicknames)
        variants.append(NICKNAME)
    if _has_punctuation(last) and (force == PUNCTUATION or rng.random() < 0.35):
        last = _punctuation_variant(rng, last)
        variants.append(PUNCTUATION)
    if middle and style.middle == "initial":
        middle = middle[0]
        variants.append(MIDDLE_INITIAL)
    elif middle and style.middle == "none":
        middle = ""
        variants.append(MIDDLE_ABSENT)
    if style.ascii_only or force == DIACRITICS:
        folded = tuple(fold_diacritics(p) for p in (first, middle, last))
        if folded != (first, middle, last):
            first, middle, last = folded
            variants.append(DIACRITICS)
    if style.upper_case:
        cased = (first.upper(), middle.upper(), last.upper())
    elif rng.random() < 0.05:
        cased = (first.capitalize(), middle.capitalize(), last.capitalize())
    else:
        cased = (first, middle, last)
    if cased != (first, middle, last):
        first, middle, last = cased
        variants.append(CASE)
    return RecordedName(pharmacy_key, first, middle, last, tuple(variants))
