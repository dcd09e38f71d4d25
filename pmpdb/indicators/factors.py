"""Versioned MME conversion factor tables (``shared/reference/peers.md`` §2.2), selected by name.

A factor converts one milligram of an opioid (fentanyl transdermal: one mcg/hr of delivery rate) into oral
morphine milligram equivalents. The tables are the guideline's, keyed by the controlled ingredient as the drug
reference names it (``normalise_ingredient``):

========================  ================  ==================================================================
ingredient                ``cdc2022``       ``cdc2016``
========================  ================  ==================================================================
codeine                   0.15              0.15
fentanyl transdermal      2.4 per mcg/hr    2.4 per mcg/hr
hydrocodone               1                 1
hydromorphone             5                 4
methadone                 4.7 (flat)        by the fill's mg/day: ≤ 20 → 4, ≤ 40 → 8, ≤ 60 → 10, above → 12
morphine                  1                 1
oxycodone                 1.5               1.5
oxymorphone               3                 3
tapentadol                0.4               0.4
tramadol                  0.2               0.1 (the 2016 guideline lists none; CDC's analytic NDC file of the
                                            time used 0.1)
buprenorphine             excluded          excluded (a partial agonist: CDC gives no factor)
========================  ================  ==================================================================

CDC 2022 is the default (MMWR RR 71(3)). The 2016 methadone tiers follow JAMA 2016;315:1624 Table 4, with the
CDC 2017 NDC file's reading of the boundaries (``> 20``, ``> 40``, ``> 60``) so fractional doses fall in one tier;
the guideline stops at 80 mg/day and the file keeps 12 above it, as this table does. An opioid that neither table
names by its route (meperidine, levorphanol, fentanyl buccal …) takes the factor its drug reference row carries,
if any — the CDC analytic file's — never a guess.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal, get_args

FactorVersion = Literal["cdc2022", "cdc2016"]
FACTOR_VERSIONS: Final[tuple[str, ...]] = get_args(FactorVersion)
DEFAULT_FACTORS: Final[FactorVersion] = "cdc2022"

BUPRENORPHINE: Final = "buprenorphine"
EXCLUDED: Final = frozenset({BUPRENORPHINE})
PATCH_WEAR_DAYS: Final = 3  # every US fentanyl transdermal system is worn 72 hours


@dataclass(frozen=True, slots=True)
class FactorTable:
    """One version's factors: per mg (``per_mg``) and per mcg/hr of a transdermal system (``transdermal``)."""

    version: FactorVersion
    label: str  # for people: "CDC 2022"
    per_mg: Mapping[str, float]
    transdermal: Mapping[str, float]
    methadone_tiers: tuple[tuple[float, float], ...] = ()  # (mg/day up to and including, factor); last = above

    def oral_factor(self, ingredient: str, mg_per_day: float) -> float | None:
        """The factor per mg for ``ingredient`` at ``mg_per_day`` (None when the table has none)."""
        if ingredient == "methadone" and self.methadone_tiers:
            for upper, factor in self.methadone_tiers:
                if mg_per_day <= upper:
                    return factor
            return self.methadone_tiers[-1][1]
        return self.per_mg.get(ingredient)


_COMMON: Final[Mapping[str, float]] = {
    "codeine": 0.15,
    "hydrocodone": 1.0,
    "morphine": 1.0,
    "oxycodone": 1.5,
    "oxymorphone": 3.0,
    "tapentadol": 0.4,
}

TABLES: Final[Mapping[str, FactorTable]] = {
    "cdc2022": FactorTable(
        "cdc2022",
        "CDC 2022",
        {**_COMMON, "hydromorphone": 5.0, "methadone": 4.7, "tramadol": 0.2},
        {"fentanyl": 2.4},
    ),
    "cdc2016": FactorTable(
        "cdc2016",
        "CDC 2016",
        {**_COMMON, "hydromorphone": 4.0, "tramadol": 0.1},
        {"fentanyl": 2.4},
        methadone_tiers=((20.0, 4.0), (40.0, 8.0), (60.0, 10.0), (float("inf"), 12.0)),
    ),
}

KNOWN_INGREDIENTS: Final = frozenset(
    {name for t in TABLES.values() for name in (*t.per_mg, *t.transdermal)}
    | EXCLUDED
    | {"methadone", "meperidine", "levorphanol", "pentazocine", "butorphanol", "dihydrocodeine", "opium"}
)
_WORDS: Final = re.compile(r"[a-z]+")


def table(version: str) -> FactorTable:
    """The table called ``version`` (``ValueError`` for a name this build does not have)."""
    try:
        return TABLES[version]
    except KeyError:
        raise ValueError(f"unknown MME factor table {version!r}; known: {', '.join(FACTOR_VERSIONS)}") from None


def normalise_ingredient(text: str) -> str:
    """``Oxycodone HCl`` → ``oxycodone``; ``Acetaminophen/Codeine`` → ``codeine``: the first word that names an
    opioid the tables know, else the text in lower case (``dihydrocodeine`` stays itself: whole words only)."""
    lowered = text.strip().lower()
    words: list[str] = _WORDS.findall(lowered)
    for word in words:
        if word in KNOWN_INGREDIENTS:
            return word
    return lowered
