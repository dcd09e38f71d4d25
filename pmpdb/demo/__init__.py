"""Demo and benchmark data for the PMP: deterministic people, fills and ASAP 4.2 files, with ground truth.

``generate(patients, seed, start=…, end=…)`` builds a dataset. ``write_demo(dataset, out_dir)`` writes its
ASAP files and ``ground-truth.json``. ``generate_bulk_file(path, records, seed)`` streams a large valid file
for benchmarks. Identifier validators (NPI, DEA) live in :mod:`pmpdb.demo.identifiers`.
"""

from __future__ import annotations

from pmpdb.demo.bulk import generate_bulk_file
from pmpdb.demo.files import GROUND_TRUTH_NAME, write_demo
from pmpdb.demo.generator import DemoDataset, DemoFile, generate
from pmpdb.demo.people import Address, Person, RecordedName
from pmpdb.demo.truth import (
    Dispensation,
    DispensationKey,
    GroundTruth,
    PersonTruth,
    Revision,
    ZeroReportTruth,
)

__all__ = [
    "GROUND_TRUTH_NAME",
    "Address",
    "DemoDataset",
    "DemoFile",
    "Dispensation",
    "DispensationKey",
    "GroundTruth",
    "Person",
    "PersonTruth",
    "RecordedName",
    "Revision",
    "ZeroReportTruth",
    "generate",
    "generate_bulk_file",
    "write_demo",
]
