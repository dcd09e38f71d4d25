"""The committed stubs are exactly what the .proto generates (DESIGN §2: a drift test)."""

from __future__ import annotations

from pathlib import Path

from protos.generate import ROOT, generate

GENERATED = ("pmp_pb2.py", "pmp_pb2.pyi", "pmp_pb2_grpc.py", "pmp_pb2_grpc.pyi")


def test_committed_stubs_match_the_proto(tmp_path: Path) -> None:
    generate(tmp_path)
    for name in GENERATED:
        fresh = (tmp_path / "protos/pmp/v1" / name).read_text()
        committed = (ROOT / "protos/pmp/v1" / name).read_text()
        assert fresh == committed, f"protos/pmp/v1/{name} drifted: run `python -m protos.generate`"


def test_stubs_import_with_the_installed_runtime() -> None:
    from protos.pmp.v1 import pmp_pb2, pmp_pb2_grpc

    assert pmp_pb2.DESCRIPTOR.services_by_name["PrescriptionSearch"].methods_by_name["SearchHistory"]
    assert hasattr(pmp_pb2_grpc, "PrescriptionSearchStub")
