"""What the codecs' XML Schema validation shares: libxml2's complaints for tests and tools, and the element a
complaint is about, so that the codec can word a refusal itself (libxml2's messages quote values, which may be PHI).
"""

from __future__ import annotations

from typing import Any

from adapters.xml._lxml import Element, etree


def complaints(checker: Any, document: Element) -> list[str]:  # an etree.XMLSchema
    """``checker``'s complaints about ``document`` as ``line N: message`` strings (``[]`` when it is valid); they
    quote the document, so they are for tests and tools, never for a client."""
    if checker.validate(document):
        return []
    return [f"line {entry.line}: {entry.message}" for entry in checker.error_log]


def element_at(root: Element, path: str | None, namespaces: dict[str, str] | None = None) -> Element | None:
    """The element a complaint's ``path`` names (its steps' prefixes resolved with ``namespaces``); None when the
    path names no element."""
    if not path:
        return None
    try:
        found = root.getroottree().xpath(path, namespaces=namespaces)
    except (etree.XPathError, TypeError, ValueError):
        return None
    if isinstance(found, list) and found and isinstance(getattr(found[0], "tag", None), str):
        return found[0]
    return None
