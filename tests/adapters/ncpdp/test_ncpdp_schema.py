"""The schemas: the public 10.6 copy is verbatim, the inbound 10.6 variant relaxes only BenefitsCoordination, the
project's 2017071 schema takes the samples and refuses what is outside the subset; the package's public API."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from lxml import etree
from ncpdp_test_data import SAMPLE_10_6_PHARMACIST, SAMPLE_10_6_PRESCRIBER, SAMPLES_BY_VERSION, sample

import adapters.ncpdp as ncpdp
from adapters.ncpdp import parse_message, validate
from adapters.ncpdp.validation import SCHEMA_FILES, schema

PUBLIC_10_6 = Path(__file__).parents[4] / "shared" / "research" / "samples" / "ncpdp" / "VA_EMD_NCPDP_SCRIPT_10_6.xsd"


@pytest.mark.skipif(not PUBLIC_10_6.exists(), reason="shared/ research samples are not beside the repository")
def test_the_10_6_schema_is_the_public_one_verbatim() -> None:
    ours = hashlib.sha256(SCHEMA_FILES["10.6"].read_bytes()).hexdigest()
    assert ours == hashlib.sha256(PUBLIC_10_6.read_bytes()).hexdigest()


@pytest.mark.parametrize("name", sorted(SAMPLES_BY_VERSION))
def test_the_samples_validate_inbound(name: str) -> None:
    assert validate(sample(name), SAMPLES_BY_VERSION[name], lenient=True) == []


def test_the_inbound_10_6_schema_relaxes_only_benefits_coordination() -> None:
    without = sample(SAMPLE_10_6_PHARMACIST)
    assert validate(without, "10.6", lenient=True) == []
    strict = validate(without, "10.6")
    assert len(strict) == 1 and "BenefitsCoordination" in strict[0]
    assert validate(sample(SAMPLE_10_6_PRESCRIBER), "10.6") == []  # with it, strict is fine
    missing_consent = sample(SAMPLE_10_6_PRESCRIBER).replace(b"<Consent>Y</Consent>", b"")
    assert validate(missing_consent, "10.6", lenient=True)  # Consent stays required when the element is sent


def test_the_schemas_are_compiled_once() -> None:
    assert schema("10.6", lenient=True) is schema("10.6", lenient=True)
    assert schema("10.6") is not schema("10.6", lenient=True)


def test_validate_takes_elements_and_bytes() -> None:
    body = sample(SAMPLE_10_6_PRESCRIBER)
    assert validate(parse_message(body), "10.6") == []
    assert validate(b"not xml", "10.6") == ["The message is not well-formed XML (line 1, column 1)"]


def test_the_2017071_schema_is_the_projects_own() -> None:
    text = SCHEMA_FILES["2017071"].read_text()
    assert "Written by the project" in text
    document = etree.parse(str(SCHEMA_FILES["2017071"]))
    assert document.getroot().get("targetNamespace") == ncpdp.NS
    etree.XMLSchema(document)  # compiles


def test_the_public_api() -> None:
    assert set(ncpdp.__all__) >= {
        "parse_message",
        "MessageHeader",
        "read_header",
        "decode_rx_history_request",
        "RxHistoryQuery",
        "encode_rx_history_response",
        "encode_error",
        "encode_refusal",
        "encode_denied",
        "ERROR_CODES",
        "validate",
    }
    for name in ncpdp.__all__:
        assert getattr(ncpdp, name) is not None
