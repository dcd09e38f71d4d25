"""The benchmark file: valid ASAP of exactly N records, whole-file counts right, deterministic."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.asap.model import DispensationRecord
from adapters.asap.reader import AsapReader
from pmpdb.demo import generate_bulk_file
from pmpdb.demo.identifiers import is_valid_dea, is_valid_npi


def test_bulk_file_of_20000_records_parses_cleanly(tmp_path: Path) -> None:
    path = tmp_path / "bulk.asap"
    generate_bulk_file(path, 20_000, 1)
    keys: set[tuple[str, str, str, str]] = set()
    pharmacies: set[str] = set()
    with path.open("rb") as f:
        reader = AsapReader(f)
        for item in reader:
            assert isinstance(item, DispensationRecord)
            d = item.dispensing
            keys.add((item.pharmacy.key, d.rx_number, d.refill_number, d.date_filled))
            pharmacies.add(item.pharmacy.key)
    assert reader.errors == []
    assert reader.record_count == 20_000
    assert len(keys) == 20_000  # every record has its own revise/void key
    assert len(pharmacies) == 4  # one loop per 5,000 records
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[-1] == f"TT*{lines[0].split('*')[2]}*{len(lines)}~"
    assert sum(line.startswith("TP*") for line in lines) == 4


def test_bulk_file_is_deterministic_and_its_ids_valid(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a.asap", tmp_path / "b.asap", tmp_path / "c.asap"
    generate_bulk_file(a, 1_234, 9, loop_size=500)
    generate_bulk_file(b, 1_234, 9, loop_size=500)
    generate_bulk_file(c, 1_234, 10, loop_size=500)
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()
    with a.open("rb") as f:
        reader = AsapReader(f)
        records = [r for r in reader if isinstance(r, DispensationRecord)]
    assert reader.errors == []
    assert len(records) == 1_234
    assert len({r.pharmacy.key for r in records}) == 3
    for record in records[:200]:
        assert is_valid_npi(record.pharmacy.npi)
        assert is_valid_dea(record.pharmacy.dea, record.pharmacy.name)
        assert record.prescriber is not None
        assert is_valid_dea(record.prescriber.dea, record.prescriber.last_name)


def test_bulk_rejects_nonsense(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="records"):
        generate_bulk_file(tmp_path / "x.asap", 0, 1)
    with pytest.raises(ValueError, match="loop_size"):
        generate_bulk_file(tmp_path / "x.asap", 10, 1, loop_size=0)
