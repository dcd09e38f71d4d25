"""MME (and LME) per day of one dispensation, from the drug reference and a factor table.

``MME/day = strength per unit × (quantity ÷ days supply) × factor`` (CDC; ``shared/reference/peers.md`` §2.2):

* tablets, capsules, films … (strength in ``mg`` or ``mcg`` per unit, quantity in units — ASAP DSP11 ``01``);
* liquids (strength in ``mg/mL`` or ``mcg/mL``, quantity in mL — DSP11 ``02``);
* fentanyl transdermal systems (strength in ``mcg/hr``, quantity in patches): a patch delivers its rate for
  72 hours, so ``quantity × 3 ÷ days supply`` patches are on at once and ``MME/day = mcg/hr × that × 2.4``
  (10 patches of 25 mcg/hr over 30 days: 25 × 1 × 2.4 = 60). This equals the CDC analytic file's 7.2 per
  (mcg/hr × patches ÷ days).

Table factors are per mg, so a strength in mcg is divided by 1000 first. An opioid the table gives no factor for
by that route (meperidine; fentanyl other than a patch) uses the factor on its reference row, in that row's own
unit, as the CDC analytic file defines it (fentanyl buccal: 0.13 per mcg). Nothing is computed — the result is
``None`` — for a non-opioid, buprenorphine, a row without strength or factor, a quantity or days supply that is
not positive, or a quantity unit that does not match the strength's (tablets counted in mL): a missing number is
honest, a wrong one is not.

Results are rounded to 0.001; ``milli`` gives them as whole thousandths so that sums are exact and do not depend
on the order in which fills are added.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

from pmpdb.indicators.factors import EXCLUDED, PATCH_WEAR_DAYS, FactorTable, normalise_ingredient

OPIOID: Final = "opioid"
BENZODIAZEPINE: Final = "benzodiazepine"
_EACH: Final = frozenset({"01", ""})  # ASAP DSP11 01 each; empty: not reported, taken as units
_ML: Final = frozenset({"02"})
_PER_UNIT: Final = {"mg": 1.0, "mcg": 0.001}
_PER_ML: Final = {"mg/ml": 1.0, "mcg/ml": 0.001}
_TRANSDERMAL: Final = "mcg/hr"


def _number(value: object) -> float | None:
    if value is None or value == "":
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number > 0 else None


@dataclass(frozen=True, slots=True)
class DrugFacts:
    """What the indicators need of one drug reference row."""

    drug_class: str  # "" when the NDC is not in the reference
    ingredient: str  # normalised (``factors.normalise_ingredient``)
    strength: float | None  # per unit (per mL, per patch's mcg/hr)
    strength_unit: str  # lower case: mg, mcg, mcg/hr, mg/ml, mcg/ml
    file_mme_factor: float | None  # the row's own MME factor (used only for ingredients the table lacks)
    lme_factor: float | None

    @property
    def known(self) -> bool:
        return bool(self.drug_class)

    @property
    def is_opioid(self) -> bool:
        return self.drug_class == OPIOID

    @property
    def is_benzodiazepine(self) -> bool:
        return self.drug_class == BENZODIAZEPINE

    @property
    def mme_excluded(self) -> bool:
        """An opioid CDC gives no factor on purpose (buprenorphine): not a gap in the reference."""
        return self.ingredient in EXCLUDED


UNKNOWN_DRUG: Final = DrugFacts("", "", None, "", None, None)


def drug_facts(
    drug_class: str | None,
    ingredient: str | None,
    strength: str | None,
    strength_unit: str | None,
    mme_factor: str | None,
    lme_factor: str | None,
) -> DrugFacts:
    """A reference row's columns (``None`` throughout for an NDC the reference does not know) → facts."""
    if not drug_class:
        return UNKNOWN_DRUG
    return DrugFacts(
        drug_class.strip().lower(),
        normalise_ingredient(ingredient or ""),
        _number(strength),
        (strength_unit or "").strip().lower(),
        _number(mme_factor),
        _number(lme_factor),
    )


def mme_per_day(
    facts: DrugFacts, quantity: float, unit_code: str, days_supply: int, table: FactorTable
) -> float | None:
    """MME/day of one dispensation (rounded to 0.001), or None when it cannot be known (module docstring)."""
    if not facts.is_opioid or facts.mme_excluded:
        return None
    strength = facts.strength
    if strength is None or days_supply <= 0 or not (math.isfinite(quantity) and quantity > 0):
        return None
    units_per_day = quantity / days_supply
    unit = facts.strength_unit
    ingredient = facts.ingredient
    if unit == _TRANSDERMAL:
        if unit_code not in _EACH:
            return None
        factor = table.transdermal.get(ingredient)
        if factor is not None:
            return round(strength * units_per_day * PATCH_WEAR_DAYS * factor, 3)
        if facts.file_mme_factor is None:
            return None
        return round(strength * units_per_day * facts.file_mme_factor, 3)
    if unit in _PER_UNIT:
        if unit_code not in _EACH:
            return None
        to_mg = _PER_UNIT[unit]
    elif unit in _PER_ML:
        if unit_code not in _ML:
            return None
        to_mg = _PER_ML[unit]
    else:
        return None
    mg_per_day = strength * to_mg * units_per_day
    factor = table.oral_factor(ingredient, mg_per_day)
    if factor is not None:
        return round(mg_per_day * factor, 3)
    if facts.file_mme_factor is None:
        return None
    return round(strength * units_per_day * facts.file_mme_factor, 3)


def lme_per_day(facts: DrugFacts, quantity: float, unit_code: str, days_supply: int) -> float | None:
    """Lorazepam mg equivalents per day of a benzodiazepine fill whose reference row carries an LME factor."""
    if not facts.is_benzodiazepine or facts.lme_factor is None or facts.strength is None:
        return None
    if days_supply <= 0 or not (math.isfinite(quantity) and quantity > 0):
        return None
    unit = facts.strength_unit
    if unit in _PER_UNIT and unit_code in _EACH:
        to_mg = _PER_UNIT[unit]
    elif unit in _PER_ML and unit_code in _ML:
        to_mg = _PER_ML[unit]
    else:
        return None
    return round(facts.strength * to_mg * quantity / days_supply * facts.lme_factor, 3)


def milli(value: float | None) -> int | None:
    """A rounded MME/LME as whole thousandths (exact to add up)."""
    return None if value is None else round(value * 1000)
