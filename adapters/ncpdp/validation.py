"""XML Schema validation: the public SCRIPT 10.6 schema and the project's 2017071 RxHistory schema.

Each schema is compiled once, on first use (about 9 ms for 10.6); validating a typical request then costs 10–25 µs
(measured on the shared development machine), so inbound messages are validated on the hot path, after the
decoder's own checks (which give the more precise messages). Outbound messages are not: the encoders build them to
the schemas and the tests validate every one.

**Inbound 10.6 is validated leniently in one respect.** The public schema makes ``RxHistoryRequest/
BenefitsCoordination`` (payer data with a mandatory ``Consent``) required, 1..3. A PMP has no payer: PMP
medication-history requests routinely leave it out, and refusing them for it would refuse the PMP's real callers.
The inbound 10.6 schema is therefore the public one with that element's ``minOccurs`` set to 0 — in memory, from
the verbatim file — and nothing else relaxed. Replies are validated (in the tests) against the verbatim schema.

A schema complaint becomes INVALID_REQUEST at the offending element's path, in the decoder's own words: libxml2's
messages quote values (``The value 'X' is not accepted…``), so only their kind, the schema's own names and
lengths are passed on.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any, Final

from adapters.ncpdp._read import error_at
from adapters.ncpdp.codes import V10_6, Version
from adapters.ncpdp.parser import parse_message
from adapters.xml._lxml import Element, etree
from adapters.xml.safe import refuse
from adapters.xml.schema import complaints, element_at
from protos.errors import PmpError

SCHEMA_DIR: Final = Path(__file__).parent / "schema"
SCHEMA_FILES: Final[dict[Version, Path]] = {
    "10.6": SCHEMA_DIR / "VA_EMD_NCPDP_SCRIPT_10_6.xsd",
    "2017071": SCHEMA_DIR / "rxhistory-2017071.xsd",
}
_XS: Final = {"xs": "http://www.w3.org/2001/XMLSchema"}
_OPTIONAL_INBOUND_10_6: Final = "//xs:element[@name='RxHistoryRequest']//xs:element[@name='BenefitsCoordination']"
_SCHEMA_NAME: Final = re.compile(r"\{[^}]*\}([A-Za-z][A-Za-z0-9]*)")
_EXPECTED: Final = re.compile(r"Expected is (?:one of )?\(([^)]*)\)")
_MAX_LENGTH: Final = re.compile(r"maximum length of '([0-9]+)'")
_REPLY_ELEMENTS: Final = 100_000
_REPLY_BYTES: Final = 16 << 20
_ATOMIC_TYPE: Final = re.compile(r"atomic type '(xs:[A-Za-z]+)'")


@cache
def schema(version: Version, *, lenient: bool = False) -> etree.XMLSchema:
    """The compiled schema of ``version``; ``lenient`` (10.6 only) is the inbound variant described above."""
    document = etree.parse(str(SCHEMA_FILES[version]), etree.XMLParser(resolve_entities=False, no_network=True))
    if lenient and version == V10_6:
        for element in document.xpath(_OPTIONAL_INBOUND_10_6, namespaces=_XS):
            element.set("minOccurs", "0")
    return etree.XMLSchema(document)


def validate(message: Element | bytes, version: Version, *, lenient: bool = False) -> list[str]:
    """The schema's complaints about ``message`` (``[]`` when it is valid), as ``line N: message`` strings.

    For tests and tools: libxml2's messages quote values, so they are never sent to a client. Bytes are parsed
    with ``parse_message`` first, with limits that fit a 300-dispensation reply (its refusal is the one complaint).
    """
    if isinstance(message, bytes):
        try:
            message = parse_message(message, max_elements=_REPLY_ELEMENTS, max_bytes=_REPLY_BYTES)
        except PmpError as error:
            return [error.detail]
    return complaints(schema(version, lenient=lenient), message)


def schema_problem(root: Element, version: Version) -> PmpError | None:
    """The first complaint of the inbound schema about a message being decoded, as INVALID_REQUEST; None if valid."""
    checker = schema(version, lenient=True)
    if checker.validate(root):
        return None
    entry = checker.error_log[0]
    found = element_at(root, entry.path)
    problem = _problem(entry, version)
    if found is None:
        return refuse("/Message", f"The message {problem}")
    return error_at(found, problem)


def _problem(entry: Any, version: Version) -> str:  # an lxml _LogEntry
    kind = entry.type_name
    message = entry.message or ""
    where = "the schema"
    if kind == "SCHEMAV_ELEMENT_CONTENT":
        expected = _EXPECTED.search(message)
        names = ", ".join(_SCHEMA_NAME.findall(expected[1])) if expected else ""
        hint = f" (expected: {names})" if names else ""
        if "Missing child element" in message:
            return f"misses a required element{hint}"
        return f"is not expected here{hint}"
    if kind == "SCHEMAV_CVC_MAXLENGTH_VALID":
        limit = _MAX_LENGTH.search(message)
        return f"exceeds {limit[1]} characters" if limit else "is too long"
    if kind in ("SCHEMAV_CVC_MINLENGTH_VALID", "SCHEMAV_CVC_LENGTH_VALID"):
        return "has the wrong length"
    if kind == "SCHEMAV_CVC_PATTERN_VALID":
        return f"has a value {where} does not allow"
    if kind == "SCHEMAV_CVC_ENUMERATION_VALID":
        return f"is not a code {where} allows"
    if kind.startswith("SCHEMAV_CVC_DATATYPE_VALID"):
        atomic = _ATOMIC_TYPE.search(message)
        return f"is not a valid {atomic[1]}" if atomic else f"has a value {where} does not allow"
    if kind.startswith("SCHEMAV_CVC_COMPLEX_TYPE_3") or kind == "SCHEMAV_CVC_COMPLEX_TYPE_2_3":
        return f"has an attribute or text {where} does not allow"
    if kind == "SCHEMAV_CVC_COMPLEX_TYPE_4":
        return "misses a required attribute"
    return f"does not follow {where}"
