"""The project's PMIX schemas: its own, compiled once per exchange namespace with that namespace substituted, and
documented element by element in docs/pmix.md; the package's public API."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from lxml import etree
from pmix_test_data import OTHER_NS, encoded, sample

import adapters.pmix as pmix
from adapters.pmix import DEFAULT_EXCHANGE_NS, PMP_NS, parse_document, validate
from adapters.pmix.validation import SCHEMA_DIR, schema

DOCS = Path(__file__).parents[3] / "docs" / "pmix.md"
XS = "{http://www.w3.org/2001/XMLSchema}"
FILES = {
    "pmix-exchange.xsd": DEFAULT_EXCHANGE_NS,
    "pmp-extension.xsd": PMP_NS,
    "niem-core.xsd": "http://release.niem.gov/niem/niem-core/4.0/",
    "niem-jxdm.xsd": "http://release.niem.gov/niem/domains/jxdm/6.0/",
}


@pytest.mark.parametrize(("name", "namespace"), sorted(FILES.items()))
def test_each_schema_is_the_projects_own(name: str, namespace: str) -> None:
    path = SCHEMA_DIR / name
    assert "the project's own schema" in path.read_text()
    document = etree.parse(str(path))
    assert document.getroot().get("targetNamespace") == namespace
    etree.XMLSchema(document)  # compiles on its own (imports resolved beside it)


def test_only_the_exchange_schema_names_the_exchange_namespace() -> None:
    for name in FILES:
        if name != "pmix-exchange.xsd":
            assert DEFAULT_EXCHANGE_NS not in (SCHEMA_DIR / name).read_text()


def test_a_schema_is_compiled_once_per_namespace() -> None:
    assert schema() is schema(DEFAULT_EXCHANGE_NS)
    assert schema(OTHER_NS) is schema(OTHER_NS)
    assert schema(OTHER_NS) is not schema()


def test_the_namespace_is_substituted() -> None:
    ours, theirs = encoded(), encoded(exchange_ns=OTHER_NS)
    assert validate(ours) == [] and validate(theirs, exchange_ns=OTHER_NS) == []
    assert validate(theirs) and validate(ours, exchange_ns=OTHER_NS)


@pytest.mark.parametrize(
    "namespace",
    ["", "no scheme", "urn:with space", 'urn:a"b', "urn:a<b", PMP_NS, "http://www.w3.org/2001/XMLSchema"],
)
def test_an_unusable_namespace_is_a_configuration_error(namespace: str) -> None:
    with pytest.raises(ValueError, match="exchange namespace"):
        schema(namespace)


def test_validate_takes_elements_and_bytes() -> None:
    assert validate(sample()) == []
    assert validate(parse_document(sample())) == []
    assert validate(b"not xml") == ["The message is not well-formed XML (line 1, column 1)"]
    problems = validate(sample().replace(b">M</jxdm:PersonSexCode>", b">Q</jxdm:PersonSexCode>"))
    assert len(problems) == 1 and "PersonSexCode" in problems[0]


def _declared_names() -> set[str]:
    prefixes = {namespace: name.split("-")[0] for name, namespace in FILES.items()}
    prefixes.update({FILES["niem-core.xsd"]: "nc", FILES["niem-jxdm.xsd"]: "j"})
    names = set()
    for name, namespace in FILES.items():
        for element in etree.parse(str(SCHEMA_DIR / name)).getroot().iter(XS + "element"):
            if element.get("name"):
                names.add(f"{prefixes[namespace]}:{element.get('name')}")
    return names


def test_every_element_is_documented() -> None:
    docs = DOCS.read_text()
    documented = set(re.findall(r"\b(?:pmix|pmp|nc|j):[A-Z][A-Za-z0-9]+", docs))
    missing = _declared_names() - documented
    assert not missing, sorted(missing)


def test_the_public_api() -> None:
    assert set(pmix.__all__) >= {
        "DEFAULT_EXCHANGE_NS",
        "PMP_NS",
        "PmixQuery",
        "PmixReport",
        "parse_request",
        "encode_report",
        "encode_refusal",
        "pmix_status",
        "encode_request",
        "decode_report",
    }
    for name in pmix.__all__:
        assert getattr(pmix, name) is not None
    assert [f.name for f in dataclasses.fields(pmix.PmixQuery)] == [
        "request",
        "request_id",
        "requesting_state",
        "disclosing_state",
        "requester_taxonomy",
        "requester_role_text",
    ]
    assert [f.name for f in dataclasses.fields(pmix.PmixReport)][:6] == [
        "request_id",
        "status",
        "message",
        "dispensations",
        "patient",
        "alerts",
    ]
    assert hasattr(pmix.PmixQuery, "__slots__") and hasattr(pmix.PmixReport, "__slots__")
