"""The drug reference: NDC → name, controlled ingredient, strength per unit, dosage form, DEA schedule, drug class
and conversion factors. ``pmp-gateway drugs load FILE`` and start-up load it; rows are validated before anything
is replaced. The clinical indicators (``pmpdb.indicators``, docs/clinical-indicators.md) read it at query time.

Two CSV layouts are accepted (UTF-8; lines starting with ``#`` are comments; header names are matched without
regard to case; one row per package NDC, a repeated NDC keeps its last row):

**The project's layout** (``pmpdb/data/drugs.csv``, documented in ``pmpdb/data/README.md``)::

    ndc,name,ingredient,strength,strength_unit,dosage_form,dea_schedule,drug_class,mme_factor[,lme_factor]

**The CDC opioid NDC and oral MME conversion file's layout** (the analytic file CDC published 2016–2020, one sheet
saved as CSV), recognised by its ``PRODNME`` or ``MME_Conversion_Factor`` column:

============================  ======================================================================================
CDC column                    becomes
============================  ======================================================================================
``NDC_Numeric`` or ``NDC``    ``ndc``: digits only; 10-digit dashed forms (4-4-2, 5-3-2, 5-4-1) padded to 5-4-2;
                              a number that lost its leading zeros padded to 11 digits
``PRODNME`` (else ``GENNME``) ``name``
``Drug`` (else ``GENNME``)    ``ingredient`` (normalised to the controlled ingredient: ``Oxycodone HCl`` →
                              ``oxycodone``)
``Strength_Per_Unit``         ``strength``
``UOM``                       ``strength_unit`` in lower case (``MG``, ``MCG``, ``MCG/HR``, ``MG/ML`` …)
``Master_Form``               ``dosage_form`` in lower case
``DEAClassCode``              ``dea_schedule``: its first digit 2–5, or a Roman numeral (``CII`` → 2); else empty
``Class``                     ``drug_class``: ``Opioid`` → opioid, ``Benzo…`` → benzodiazepine, ``Stimulant``,
                              ``Muscle Relaxant`` → muscle_relaxant; others in lower case with ``_`` for spaces
``MME_Conversion_Factor``     ``mme_factor`` (optional)
``LME_Conversion_Factor``     ``lme_factor`` (optional; not in CDC's file)
============================  ======================================================================================

Other columns (``LongShortActing`` …) are ignored. The file's own MME factor is used only for opioids that the
factor table in force does not name (``pmpdb.indicators.factors``): the CDC file's factors are analytic ones —
fentanyl patches 7.2, tramadol 0.1, methadone 3 — and the clinical tables supersede them where they speak.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path

from pmpdb.indicators.factors import normalise_ingredient
from pmpdb.store.base import Row, Store
from pmpdb.store.schema import DRUG_COLUMNS

OPTIONAL_COLUMNS = frozenset({"lme_factor"})
_NUMERIC = ("strength", "mme_factor", "lme_factor")
_CDC_MARKERS = frozenset({"prodnme", "mme_conversion_factor"})
_CLASSES = {
    "opioid": "opioid",
    "opioids": "opioid",
    "benzo": "benzodiazepine",
    "benzos": "benzodiazepine",
    "benzodiazepine": "benzodiazepine",
    "benzodiazepines": "benzodiazepine",
    "stimulant": "stimulant",
    "stimulants": "stimulant",
    "muscle relaxant": "muscle_relaxant",
    "muscle relaxants": "muscle_relaxant",
}
_ROMAN = {"II": "2", "III": "3", "IV": "4", "V": "5"}


class DrugFileError(ValueError):
    """The drug reference file is not in the expected layout."""


def bundled_drug_csv() -> Path:
    return Path(str(resources.files("pmpdb") / "data" / "drugs.csv"))


def normalise_ndc(text: str) -> str:
    """An NDC as 11 digits (5-4-2), or "" when it is not one."""
    text = text.strip()
    if "-" in text:
        parts = text.split("-")
        if len(parts) != 3 or not all(p.isdigit() for p in parts):
            return ""
        widths = tuple(len(p) for p in parts)
        if widths == (5, 4, 2):
            return "".join(parts)
        if widths == (4, 4, 2):
            return "0" + "".join(parts)
        if widths == (5, 3, 2):
            return parts[0] + "0" + parts[1] + parts[2]
        if widths == (5, 4, 1):
            return parts[0] + parts[1] + "0" + parts[2]
        return ""
    if text.endswith(".0"):  # a spreadsheet that wrote the NDC as a number
        text = text[:-2]
    return text.zfill(11) if text.isdigit() and 8 <= len(text) <= 11 else ""


def _schedule(text: str) -> str:
    text = text.strip().upper().removeprefix("C")
    if text in _ROMAN:
        return _ROMAN[text]
    match = re.match(r"[2-5]", text)
    return match.group(0) if match else ""


def _drug_class(text: str) -> str:
    lowered = " ".join(text.strip().lower().split())
    return _CLASSES.get(lowered) or lowered.replace(" ", "_")


def _first(rec: Mapping[str, str], *names: str) -> str:
    for name in names:
        value = (rec.get(name) or "").strip()
        if value:
            return value
    return ""


def _from_cdc(rec: Mapping[str, str]) -> dict[str, str]:
    return {
        "ndc": _first(rec, "ndc_numeric", "ndc"),
        "name": _first(rec, "prodnme", "gennme"),
        "ingredient": normalise_ingredient(_first(rec, "drug", "gennme")),
        "strength": _first(rec, "strength_per_unit"),
        "strength_unit": _first(rec, "uom").lower(),
        "dosage_form": _first(rec, "master_form").lower(),
        "dea_schedule": _schedule(_first(rec, "deaclasscode")),
        "drug_class": _drug_class(_first(rec, "class")),
        "mme_factor": _first(rec, "mme_conversion_factor"),
        "lme_factor": _first(rec, "lme_conversion_factor"),
    }


def _numeric_ok(value: str) -> bool:
    if not value:
        return True
    try:
        number = float(value)
    except ValueError:
        return False
    return math.isfinite(number) and number >= 0


def _rows(name: str, records: Iterable[tuple[int, dict[str, str]]]) -> list[Row]:
    by_ndc: dict[str, Row] = {}
    for line_no, rec in records:
        ndc = normalise_ndc(rec.get("ndc") or "")
        if not ndc:
            raise DrugFileError(f"{name} line {line_no}: ndc must be 11 digits")
        for column in _NUMERIC:
            if not _numeric_ok((rec.get(column) or "").strip()):
                raise DrugFileError(f"{name} line {line_no}: {column} must be a number")
        by_ndc[ndc] = (ndc, *((rec.get(c) or "").strip() for c in DRUG_COLUMNS[1:]))
    return list(by_ndc.values())


def read_drug_csv(path: Path) -> list[Row]:
    """Rows in ``DRUG_COLUMNS`` order; NDCs normalised to 11 digits (either layout: module docstring)."""
    with path.open(newline="", encoding="utf-8-sig") as f:
        lines = (line for line in f if not line.startswith("#"))
        reader = csv.DictReader(lines)
        fields = [(h or "").strip().lower() for h in reader.fieldnames or ()]
        reader.fieldnames = fields
        if _CDC_MARKERS & set(fields):
            if not {"ndc", "ndc_numeric"} & set(fields) or "strength_per_unit" not in fields:
                raise DrugFileError(f"{path.name}: a CDC-layout file needs NDC and Strength_Per_Unit columns")
            return _rows(path.name, ((n, _from_cdc(rec)) for n, rec in enumerate(reader, start=2)))
        missing = set(DRUG_COLUMNS) - OPTIONAL_COLUMNS - set(fields)
        if missing:
            raise DrugFileError(f"{path.name}: missing columns {sorted(missing)}")
        return _rows(path.name, enumerate(reader, start=2))


async def load_drugs(store: Store, path: Path | None = None) -> int:
    return await store.load_drugs(read_drug_csv(path or bundled_drug_csv()))
