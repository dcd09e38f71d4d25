"""XML Schema validation against the project's PMIX schemas, for any exchange namespace.

The schemas (``schema/``) are the project's own, written from the public element names (docs/pmix.md). The
exchange namespace is a setting, so ``pmix-exchange.xsd`` is written with the default namespace and compiled, on
first use per namespace, from its text with that URI replaced (``schema``: an LRU cache of compiled schemas keyed by
namespace); its imports — the ``pmp:``, ``nc:`` and ``j:`` schemas, which do not mention the exchange namespace —
are read from the files beside it. Compiling takes 1–2 ms; validating a request about 0.1 ms and a report of 25
prescriptions about 1.5 ms (measured on the shared development machine), so every inbound document is validated,
before it is decoded. Outbound documents are built to the schema and validated in the tests.

A schema complaint becomes INVALID_REQUEST at the offending element's path, in the codec's own words: libxml2's
messages quote values (``The value 'X' is not accepted…``), so only their kind and the schema's own names are
passed on.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

from adapters.pmix._read import error_at, qualified_name
from adapters.pmix.codes import DEFAULT_EXCHANGE_NS, exchange_namespace
from adapters.pmix.parser import REPORT_LIMITS, parse_document
from adapters.xml._lxml import Element, etree
from adapters.xml.safe import refuse
from adapters.xml.schema import complaints, element_at
from protos.errors import PmpError

SCHEMA_DIR: Final = Path(__file__).parent / "schema"
EXCHANGE_SCHEMA: Final = SCHEMA_DIR / "pmix-exchange.xsd"
_CLARK_NAME: Final = re.compile(r"\{[^}]*\}[A-Za-z][A-Za-z0-9]*")
_EXPECTED: Final = re.compile(r"Expected is (?:one of )?\(([^)]*)\)")
_ATOMIC_TYPE: Final = re.compile(r"atomic type '(?:xs:|\{[^}]*\})?([A-Za-z]+)'")
_TYPE_WORDS: Final = {
    "date": "a date (YYYY-MM-DD)",
    "CalendarDate": "a date (YYYY-MM-DD)",
    "time": "a time (hh:mm:ss)",
    "boolean": "true or false",
    "decimal": "a decimal number",
    "Quantity": "a positive decimal number",
    "PlainDecimal": "a decimal number",
    "nonNegativeInteger": "a whole number",
    "DaysCount": "a whole number",
    "RefillCount": "a whole number",
    "Count": "a whole number",
    "Seconds": "a whole number",
}
_XS: Final = "{http://www.w3.org/2001/XMLSchema}"


def schema(exchange_ns: str = DEFAULT_EXCHANGE_NS) -> Any:  # etree.XMLSchema
    """The compiled schema set whose exchange namespace is ``exchange_ns`` (ValueError for an unusable URI)."""
    return _compiled(exchange_namespace(exchange_ns))


@lru_cache(maxsize=8)
def _compiled(namespace: str) -> Any:
    text = EXCHANGE_SCHEMA.read_text(encoding="utf-8").replace(f'"{DEFAULT_EXCHANGE_NS}"', f'"{namespace}"')
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    document = etree.fromstring(text.encode("utf-8"), parser, base_url=str(EXCHANGE_SCHEMA))
    return etree.XMLSchema(document)


def validate(document: Element | bytes, *, exchange_ns: str = DEFAULT_EXCHANGE_NS) -> list[str]:
    """The schema's complaints about ``document`` (``[]`` when it is valid), as ``line N: message`` strings.

    For tests and tools: libxml2's messages quote values, so they are never sent to a client. Bytes are parsed
    with the hardened parser and the report limits first (its refusal is then the one complaint).
    """
    if isinstance(document, bytes):
        try:
            document = parse_document(document, limits=REPORT_LIMITS)
        except PmpError as error:
            return [error.detail]
    return complaints(schema(exchange_ns), document)


def schema_problem(root: Element, exchange_ns: str) -> PmpError | None:
    """The schema's first complaint about a document being decoded, as INVALID_REQUEST; None when it is valid."""
    checker = schema(exchange_ns)
    if checker.validate(root):
        return None
    entry = checker.error_log[0]
    problem = _problem(entry, exchange_ns)
    found = _element_at(root, entry.path)
    if found is None:
        name = qualified_name(root.tag, exchange_ns)
        return refuse(f"/{name}", f"The message {problem}")
    return error_at(found, problem)


def _element_at(root: Element, path: str | None) -> Element | None:
    """The element libxml2's path names. Its steps use the document's own prefixes (``*`` for the default
    namespace), so they are resolved with the prefixes the document declares; None when that is ambiguous."""
    namespaces: dict[str, str] = {}
    for element in root.iter():
        for prefix, uri in element.nsmap.items():
            if prefix is not None and namespaces.setdefault(prefix, uri) != uri:
                return None
    return element_at(root, path, namespaces)


def _expected(text: str, exchange_ns: str, *, required_only: bool) -> str:
    """The names libxml2 expected; for a missing element only the required ones when there are some (for an
    xs:all it lists every child not yet seen)."""
    names = [qualified_name(name, exchange_ns) for name in _CLARK_NAME.findall(text)]
    required = [name for name in names if name in _required_names()] if required_only else names
    return ", ".join(required or names)


@lru_cache(maxsize=1)
def _required_names() -> frozenset[str]:
    """``prefix:Name`` of every element some content model of the schemas requires (minOccurs is not 0)."""
    required: set[str] = set()
    for path in SCHEMA_DIR.glob("*.xsd"):
        document = etree.parse(str(path), etree.XMLParser(resolve_entities=False, no_network=True))
        for declaration in document.iter(_XS + "element"):
            reference = declaration.get("ref")
            if reference and declaration.get("minOccurs", "1") != "0":
                prefix, _, local = reference.rpartition(":")
                namespace = declaration.nsmap.get(prefix or None, "")
                required.add(qualified_name("{" + namespace + "}" + local, DEFAULT_EXCHANGE_NS))
    return frozenset(required)


def _problem(entry: Any, exchange_ns: str) -> str:  # an lxml _LogEntry
    kind = entry.type_name
    message = entry.message or ""
    if kind == "SCHEMAV_ELEMENT_CONTENT":
        expected = _EXPECTED.search(message)
        missing = "Missing child element" in message
        names = _expected(expected[1], exchange_ns, required_only=missing) if expected else ""
        hint = f" (expected: {names})" if names else ""
        return f"misses a required element{hint}" if missing else f"is not expected here{hint}"
    if kind == "SCHEMAV_CVC_ELT_1":
        return "is not an element this schema declares"
    if kind == "SCHEMAV_CVC_MAXLENGTH_VALID":
        return "is too long"
    if kind in ("SCHEMAV_CVC_MINLENGTH_VALID", "SCHEMAV_CVC_LENGTH_VALID"):
        return "has the wrong length"
    if kind == "SCHEMAV_CVC_ENUMERATION_VALID":
        return "is not a code the schema allows"
    if kind.startswith("SCHEMAV_CVC_DATATYPE_VALID"):
        atomic = _ATOMIC_TYPE.search(message)
        words = _TYPE_WORDS.get(atomic[1]) if atomic else None
        return f"is not {words}" if words else "has a value the schema does not allow"
    if kind == "SCHEMAV_CVC_TYPE_3_1_2":
        return "must hold text, not elements"
    if kind == "SCHEMAV_CVC_TYPE_3_1_1":
        return "has an attribute the schema does not allow"
    if kind == "SCHEMAV_CVC_PATTERN_VALID":
        return "is blank or has a value the schema does not allow"
    if kind.startswith(("SCHEMAV_CVC_MIN", "SCHEMAV_CVC_MAX", "SCHEMAV_CVC_TOTAL", "SCHEMAV_CVC_FRACTION")):
        return "is out of the range the schema allows"
    if kind.startswith("SCHEMAV_CVC_COMPLEX_TYPE") or kind == "SCHEMAV_CVC_ELT_4_3":
        return "has an attribute, text or content the schema does not allow"
    return "does not follow the schema"
