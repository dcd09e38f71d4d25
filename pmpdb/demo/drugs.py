"""The demo's view of ``pmpdb/data/drugs.csv``: which products can be dispensed, and in what amounts.

Each product gets a few realistic regimens (quantity over days supply), so a dispensation's MME/day and
its overlap with other fills look like what a PMP sees: 120 tablets over 30 days for chronic oxycodone,
20 tablets over 5 days after surgery, 10 fentanyl patches over 30 days.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from importlib import resources
from pathlib import Path


@dataclass(slots=True, frozen=True)
class Drug:
    """One row of the drug reference (columns documented in ``pmpdb/data/README.md``)."""

    ndc: str
    name: str
    ingredient: str
    strength: str
    strength_unit: str
    dosage_form: str
    dea_schedule: int | None  # None: not federally scheduled
    drug_class: str
    mme_factor: str  # decimal text; empty for non-opioids and buprenorphine


@dataclass(slots=True, frozen=True)
class Regimen:
    """How much is dispensed for how long; ``chronic`` regimens are refilled month after month."""

    quantity: int
    days_supply: int
    chronic: bool


_ACUTE_OPIOID = (Regimen(12, 3, False), Regimen(20, 5, False), Regimen(28, 7, False), Regimen(30, 5, False))
_CHRONIC_OPIOID = (Regimen(60, 30, True), Regimen(90, 30, True), Regimen(120, 30, True), Regimen(180, 30, True))

_REGIMENS_BY_INGREDIENT: dict[str, tuple[Regimen, ...]] = {
    "methadone": (Regimen(90, 30, True), Regimen(60, 30, True), Regimen(120, 30, True)),
    "fentanyl": (Regimen(10, 30, True), Regimen(5, 15, True)),
    "buprenorphine": (Regimen(60, 30, True), Regimen(30, 30, True), Regimen(14, 7, True), Regimen(28, 14, True)),
    "tramadol": (Regimen(20, 5, False), Regimen(60, 15, False), Regimen(120, 30, True)),
    "codeine": (Regimen(12, 3, False), Regimen(20, 5, False), Regimen(30, 5, False)),
}
_REGIMENS_BY_CLASS: dict[str, tuple[Regimen, ...]] = {
    "benzodiazepine": (Regimen(30, 30, True), Regimen(60, 30, True), Regimen(90, 30, True), Regimen(15, 15, False)),
    "stimulant": (Regimen(30, 30, True), Regimen(60, 30, True)),
    "hypnotic": (Regimen(30, 30, True), Regimen(15, 15, False)),
    "muscle_relaxant": (Regimen(30, 10, False), Regimen(90, 30, True), Regimen(60, 20, False)),
    "gabapentinoid": (Regimen(60, 30, True), Regimen(90, 30, True)),
    "barbiturate": (Regimen(30, 15, False), Regimen(20, 10, False), Regimen(60, 30, True)),
}


def regimens(drug: Drug) -> tuple[Regimen, ...]:
    """The regimens that make sense for ``drug`` (extended-release opioids only come chronic)."""
    if drug.ingredient in _REGIMENS_BY_INGREDIENT:
        return _REGIMENS_BY_INGREDIENT[drug.ingredient]
    if drug.drug_class == "opioid":
        if " ER" in drug.name or "ER)" in drug.name:
            return (Regimen(60, 30, True), Regimen(90, 30, True))
        return _ACUTE_OPIOID + _CHRONIC_OPIOID
    return _REGIMENS_BY_CLASS.get(drug.drug_class, (Regimen(30, 30, True),))


def unit_code(drug: Drug) -> str:
    """ASAP DSP11: 01 each (tablets, capsules, patches, films), 02 mL (solutions)."""
    return "02" if drug.dosage_form == "solution" else "01"


def parse_drugs(text: str) -> tuple[Drug, ...]:
    """Rows of a drugs.csv text (``#`` lines are comments)."""
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    drugs: list[Drug] = []
    for row in csv.DictReader(io.StringIO("\n".join(lines))):
        schedule = row["dea_schedule"].strip()
        drugs.append(
            Drug(
                ndc=row["ndc"].strip(),
                name=row["name"].strip(),
                ingredient=row["ingredient"].strip(),
                strength=row["strength"].strip(),
                strength_unit=row["strength_unit"].strip(),
                dosage_form=row["dosage_form"].strip(),
                dea_schedule=int(schedule) if schedule.isdigit() else None,
                drug_class=row["drug_class"].strip(),
                mme_factor=row["mme_factor"].strip(),
            )
        )
    return tuple(drugs)


def load_drugs(path: Path | None = None) -> tuple[Drug, ...]:
    """The drugs of ``path``, or of the bundled ``pmpdb/data/drugs.csv``."""
    if path is not None:
        return parse_drugs(path.read_text(encoding="utf-8"))
    return parse_drugs(resources.files("pmpdb.data").joinpath("drugs.csv").read_text(encoding="utf-8"))


def reportable(drugs: tuple[Drug, ...]) -> tuple[Drug, ...]:
    """The federally scheduled (II–V) products: what every PMP collects."""
    return tuple(d for d in drugs if d.dea_schedule is not None and 2 <= d.dea_schedule <= 5)
