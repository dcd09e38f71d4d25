"""What ``GET [base]/metadata`` and ``GET [base]/OperationDefinition/pdmp-history`` serve.

Both resources are JSON files in the repository's top-level ``fhir_profiles/`` folder (they are documents an
integrator reads, reviewed as such). They are read once, on first use; each call returns a fresh dict, so a
caller may change it. The CapabilityStatement is completed with the server's base URL, which only the gateway
knows.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any, Final

import orjson

PROFILES_DIR: Final = Path(__file__).resolve().parents[2] / "fhir_profiles"
CAPABILITY_FILE: Final = "CapabilityStatement-pmp-gateway.json"
OPERATION_FILE: Final = "OperationDefinition-pdmp-history.json"


@cache
def _document(name: str) -> bytes:
    return (PROFILES_DIR / name).read_bytes()


def operation_definition() -> dict[str, Any]:
    """The ``$pdmp-history`` OperationDefinition as this gateway implements it (its ``base`` is the IG's)."""
    document: dict[str, Any] = orjson.loads(_document(OPERATION_FILE))
    return document


def capability_statement(base_url: str) -> dict[str, Any]:
    """The server's CapabilityStatement, for the FHIR base ``base_url`` (e.g. ``https://pmp.example.gov/fhir``)."""
    base = base_url.rstrip("/")
    statement: dict[str, Any] = orjson.loads(_document(CAPABILITY_FILE))
    statement["url"] = f"{base}/metadata"
    statement["implementation"] = {"description": "PMP hub gateway FHIR endpoint", "url": base}
    return statement
