"""``pmp-gateway ingest`` on hostile files: a clear report, exit status 1, nothing loaded, memory bounded."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from adapters.asap.writer import format_asap
from tests.asap_files import PHARMACY, asap_file, fill, patient
from tests.e2e.processes import ROOT, cli_env, run_cli

GOOD = format_asap(
    asap_file([(PHARMACY, [(patient(), fill("RX1", "20261001")), (patient(), fill("RX2", "20261002"))])])
)


def _stored(data_dir: Path) -> int:
    db = data_dir / "pmpdb.sqlite3"
    return int(sqlite3.connect(db).execute("SELECT count(*) FROM dispensation").fetchone()[0])


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("truncated", GOOD[: len(GOOD) * 2 // 3].encode()),
        ("wrong-counts", GOOD.replace("TP*", "TP*9", 1).encode()),
        ("bad-date", GOOD.replace("20261002", "20260231", 1).encode()),
        ("garbage", bytes(range(256)) * 64),
        ("not-utf8", GOOD.replace("SMITH", "SM\udcffTH").encode("utf-8", "surrogateescape")),
    ],
)
def test_hostile_file_is_rejected_whole(tmp_path: Path, name: str, content: bytes) -> None:
    path = tmp_path / f"{name}.asap"
    path.write_bytes(content)
    env = cli_env(tmp_path / "data")
    result = run_cli("ingest", "--json", str(path), env=env)
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert report["status"] == "rejected"
    assert report["accepted"] == 0
    assert report["errors"]
    for error in report["errors"]:
        assert set(error) == {"segment_number", "segment", "field", "reason"}
        assert error["reason"]
    assert "SMITH" not in result.stdout
    assert _stored(tmp_path / "data") == 0


def test_a_100_mb_single_line_is_rejected_with_flat_memory(tmp_path: Path) -> None:
    path = tmp_path / "huge.asap"
    with path.open("wb") as f:
        f.write(b"TH*4.2*1*01**20261101*1200*P**~~IS*1*X*~PHA*1234567893*")
        block = b"A" * (1 << 20)
        for _ in range(100):
            f.write(block)
    assert path.stat().st_size > 100 * (1 << 20)
    env = cli_env(tmp_path / "data")
    # A wrapper process whose only child is the ingest, so RUSAGE_CHILDREN is the ingest's own peak.
    wrapper = (
        "import resource, subprocess, sys;"
        "r = subprocess.run([sys.executable, '-m', 'pmpcli', 'ingest', '--json', sys.argv[1]], capture_output=True);"
        "sys.stdout.write(r.stdout.decode());"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss);"
        "sys.exit(r.returncode)"
    )
    result = subprocess.run(
        [sys.executable, "-c", wrapper, str(path)], env=env, capture_output=True, text=True, timeout=300, cwd=ROOT
    )
    *report_lines, peak_kb = result.stdout.strip().splitlines()
    peak_mb = int(peak_kb) / 1024
    assert result.returncode == 1
    report = json.loads(report_lines[-1])
    assert report["status"] == "rejected"
    assert any("long" in e["reason"] for e in report["errors"]), report["errors"]
    assert _stored(tmp_path / "data") == 0
    assert peak_mb < 300, f"ingest of a 100 MB line peaked at {peak_mb:.0f} MB"


def test_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    result = run_cli("ingest", str(tmp_path / "nope.asap"), env=cli_env(tmp_path / "data"))
    assert result.returncode == 2
    assert "no such file" in result.stderr


def test_human_output_names_segment_field_and_reason(tmp_path: Path) -> None:
    path = tmp_path / "bad.asap"
    path.write_text(GOOD.replace("20261002", "20261302", 1))
    result = run_cli("ingest", str(path), env={**cli_env(tmp_path / "data"), "COLUMNS": "200"})
    assert result.returncode == 1
    assert "rejected" in result.stdout and "DSP" in result.stdout and "not a valid date" in result.stdout
    assert os.path.exists(tmp_path / "data" / "pmpdb.sqlite3")
