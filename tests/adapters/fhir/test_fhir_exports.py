"""The public surface of ``adapters.fhir``: exactly the names the gateway is written against, and a pure codec."""

from __future__ import annotations

import ast
from pathlib import Path

import adapters.fhir as fhir

PUBLIC = [
    "CURSOR_PARAM",
    "DispenseSearch",
    "HistoryParams",
    "capability_statement",
    "decode_pdmp_history",
    "encode_outcome",
    "encode_pdmp_history",
    "encode_searchset",
    "operation_definition",
    "parse_dispense_search",
]


def test_exported_names() -> None:
    assert fhir.__all__ == sorted(fhir.__all__) == PUBLIC
    for name in PUBLIC:
        assert getattr(fhir, name) is not None


def test_the_codec_imports_neither_gateway_nor_pmpdb_nor_pydantic() -> None:
    package = Path(fhir.__file__).parent
    for module in package.glob("*.py"):
        tree = ast.parse(module.read_text())
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                assert top not in {"gateway", "pmpdb", "fhir", "pydantic"}, f"{module.name} imports {name}"
