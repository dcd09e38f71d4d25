"""The drug reference: NDC → name, strength, form, DEA schedule, class, MME factor.

``pmp-gateway drugs load FILE`` and start-up read the project's curated CSV layout (``pmpdb/data/drugs.csv``,
columns documented in ``pmpdb/data/README.md``). Rows are validated before anything is replaced.
"""

from __future__ import annotations

import csv
from importlib import resources
from pathlib import Path

from pmpdb.store.base import Row, Store
from pmpdb.store.schema import DRUG_COLUMNS


class DrugFileError(ValueError):
    """The drug reference file is not in the expected layout."""


def bundled_drug_csv() -> Path:
    return Path(str(resources.files("pmpdb") / "data" / "drugs.csv"))


def read_drug_csv(path: Path) -> list[Row]:
    """Rows in ``DRUG_COLUMNS`` order; NDCs normalised to 11 digits."""
    with path.open(newline="", encoding="utf-8") as f:
        lines = (line for line in f if not line.startswith("#"))
        reader = csv.DictReader(lines)
        missing = set(DRUG_COLUMNS) - set(reader.fieldnames or ())
        if missing:
            raise DrugFileError(f"{path.name}: missing columns {sorted(missing)}")
        rows: list[Row] = []
        for line_no, rec in enumerate(reader, start=2):
            ndc = (rec["ndc"] or "").replace("-", "").strip()
            if not (ndc.isdigit() and len(ndc) == 11):
                raise DrugFileError(f"{path.name} line {line_no}: ndc must be 11 digits")
            rows.append((ndc, *((rec[c] or "").strip() for c in DRUG_COLUMNS[1:])))
    return rows


async def load_drugs(store: Store, path: Path | None = None) -> int:
    return await store.load_drugs(read_drug_csv(path or bundled_drug_csv()))
