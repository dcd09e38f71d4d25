"""The hardened parse every inbound XML body goes through: a SCRIPT or PMIX body comes from the network, so nothing
in it is trusted.

* **no DTD at all** — a ``<!DOCTYPE`` or ``<!ENTITY`` anywhere in the bytes is refused before libxml2 sees them (XXE
  with ``file://`` or ``http://`` entities, billion laughs, external DTD fetches). Neither protocol needs one, so a
  false positive (the string inside a comment) costs nothing real. The parser is also built not to load DTDs, not
  to resolve entities and not to touch the network, and the parsed tree is checked for a DOCTYPE again — three
  locks on one door;
* **UTF-8 only** — both protocols are UTF-8; a UTF-16/32 byte-order mark, an XML declaration naming any other
  encoding or bytes that are not strict UTF-8 are refused rather than guessed at;
* **size, depth and element count** are bounded (``Limits``; ``huge_tree`` stays off, so libxml2's own limits hold
  too).

The root element is the codec's to check. Every refusal is a ``PmpError`` — INVALID_REQUEST, or PAYLOAD_TOO_LARGE
for the byte cap — whose ``location`` is ``/`` (a tree too deep or too large: the ``Wording``'s place) and whose
``detail`` never quotes the document: it may hold PHI. Nothing else is ever raised.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any, Final

from adapters.xml._lxml import Element, etree
from protos.errors import PmpError
from protos.pmp.v1 import pmp_pb2 as pb


@dataclass(frozen=True, slots=True)
class Limits:
    max_bytes: int
    max_depth: int
    max_elements: int


@dataclass(frozen=True, slots=True)
class Wording:
    """What a codec's refusals say differently: the protocol named in the DTD refusals, and the ``location`` of a
    tree too deep or with too many elements (clients and tests rely on both)."""

    protocol: str
    tree_location: str = "/"


_PARSER: Final = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    dtd_validation=False,
    huge_tree=False,
    remove_comments=True,
    remove_pis=True,
    collect_ids=False,
)
_UTF16_32_BOMS: Final = (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")
_DECLARED: Final = re.compile(rb"\A(?:\xef\xbb\xbf)?\s*<\?xml[^>]*?\bencoding\s*=\s*[\"']([^\"']{0,40})[\"']")
_UTF8_NAMES: Final = frozenset({b"utf-8", b"utf8", b"us-ascii", b"ascii"})
_DTD_MARKS: Final = (b"<!DOCTYPE", b"<!ENTITY")
_COUNT: Final = etree.XPath("count(//*)")


def refuse(where: str, detail: str) -> PmpError:
    """INVALID_REQUEST at ``where``: the one error an inbound document's problems become."""
    return PmpError(pb.ERROR_CODE_INVALID_REQUEST, detail, location=(where,))


def parse_untrusted(body: bytes, *, limits: Limits, wording: Wording) -> Element:
    """The root element of ``body``, parsed safely. Raises only ``PmpError``."""
    if len(body) > limits.max_bytes:
        detail = f"The message is larger than the {limits.max_bytes} bytes allowed"
        raise PmpError(pb.ERROR_CODE_PAYLOAD_TOO_LARGE, detail, location=("/",))
    if not body.strip():
        raise refuse("/", "The message body is empty")
    _check_encoding(body)
    for mark in _DTD_MARKS:
        if mark in body:
            raise refuse("/", f"The message has a DTD or an entity declaration; {wording.protocol} allows none")
    try:
        root = etree.fromstring(body, _PARSER)
    except etree.XMLSyntaxError as error:
        raise _not_well_formed(error) from None
    except (etree.LxmlError, ValueError):
        raise refuse("/", "The message is not well-formed XML") from None
    if root.getroottree().docinfo.doctype:
        raise refuse("/", f"The message has a DTD: {wording.protocol} messages must not carry one")
    if _COUNT(root) > limits.max_elements:
        raise refuse(wording.tree_location, f"The message has more than {limits.max_elements} elements")
    if _deeper_than(limits.max_depth)(root):
        raise refuse(wording.tree_location, f"The message nests elements more than {limits.max_depth} deep")
    return root


def _check_encoding(body: bytes) -> None:
    if body.startswith(_UTF16_32_BOMS) or b"\x00" in body:  # NUL: UTF-16/32 without a byte-order mark
        raise refuse("/", "The message must be encoded in UTF-8")
    declared = _DECLARED.match(body)
    if declared is not None and declared[1].lower() not in _UTF8_NAMES:
        raise refuse("/", "The message must be UTF-8; its XML declaration names another encoding")
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise refuse("/", f"The message is not valid UTF-8 (byte {error.start})") from None


def _not_well_formed(error: etree.XMLSyntaxError) -> PmpError:
    """libxml2's message may quote the document, so only its kind and position are passed on."""
    line, column = error.position if error.position else (0, 0)
    where = f" (line {line}, column {column})" if line else ""
    if "depth" in str(error).lower():
        return refuse("/", f"The message nests elements too deeply{where}")
    return refuse("/", f"The message is not well-formed XML{where}")


@cache
def _deeper_than(depth: int) -> Any:
    """An XPath that is true when some element is more than ``depth`` levels deep (evaluated in C, unlike a walk)."""
    return etree.XPath("boolean(" + "/*" * (depth + 1) + ")")
