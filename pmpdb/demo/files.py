"""Put a demo dataset on disk: its ASAP files (named in ingestion order) and ``ground-truth.json``."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from adapters.asap.model import AsapFile
from adapters.asap.writer import write_asap
from pmpdb.demo.generator import DemoDataset

GROUND_TRUTH_NAME = "ground-truth.json"


def write_demo(dataset: DemoDataset, out_dir: Path, terminator: str = "~") -> list[Path]:
    """Write every file of ``dataset`` into ``out_dir`` (created if missing); return their paths.

    The ASAP files come first, in the order they must be ingested (which is also their names' sort
    order: "new" files, the zero report, then the corrections). ``ground-truth.json`` comes last.
    ``terminator`` is the segment terminator; TH09 is set to match it. Files are UTF-8, because names
    keep their accents at pharmacies whose systems store them.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for demo_file in dataset.files:
        source = demo_file.asap
        asap = AsapFile(replace(source.header, segment_terminator=terminator), source.source, list(source.pharmacies))
        path = out_dir / demo_file.name
        with path.open("w", encoding="utf-8", newline="") as out:
            write_asap(asap, out, terminator=terminator)
        paths.append(path)
    truth_path = out_dir / GROUND_TRUTH_NAME
    truth_path.write_text(dataset.truth.to_json(), encoding="utf-8", newline="")
    paths.append(truth_path)
    return paths
