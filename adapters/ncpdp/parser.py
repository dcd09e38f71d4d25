"""Every inbound SCRIPT byte goes through ``parse_message``: a hardened lxml parse and the envelope's first checks.

A SCRIPT body comes from the network, so the parser trusts nothing in it:

* **no DTD at all** — a ``<!DOCTYPE`` or ``<!ENTITY`` anywhere in the bytes is refused before libxml2 sees them (XXE
  with ``file://`` or ``http://`` entities, billion laughs, external DTD fetches). SCRIPT never needs one, so a
  false positive (the string inside a comment) costs nothing real. The parser is also built not to load DTDs,
  not to resolve entities and not to touch the network, and the parsed tree is checked for a DOCTYPE again —
  three locks on one door;
* **UTF-8 only** — SCRIPT is ASCII/UTF-8; a UTF-16/32 byte-order mark, an XML declaration naming any other encoding
  or bytes that are not strict UTF-8 are refused rather than guessed at;
* **size, depth and element count** are bounded (``huge_tree`` stays off, so libxml2's own limits hold too);
* the root must be ``Message`` in ``http://www.ncpdp.org/schema/SCRIPT``.

Every refusal is a ``PmpError`` (INVALID_REQUEST, or PAYLOAD_TOO_LARGE for the byte cap) whose ``location`` is an
XPath-like place (``/``, ``/Message``) and whose ``detail`` never quotes the message: it may hold PHI. Nothing else
is ever raised.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any, Final

from adapters.ncpdp._lxml import Element, etree
from adapters.ncpdp.codes import MESSAGE, NS
from protos.errors import PmpError
from protos.pmp.v1 import pmp_pb2 as pb

MAX_BYTES: Final = 1 << 20  # the gateway caps bodies earlier; this keeps the codec safe on its own
MAX_DEPTH: Final = 64  # an RxHistoryRequest is about 8 deep
MAX_ELEMENTS: Final = 2_000  # a typical request has about 40

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


def refuse(where: str, detail: str) -> PmpError:
    return PmpError(pb.ERROR_CODE_INVALID_REQUEST, detail, location=(where,))


def parse_message(
    body: bytes,
    *,
    max_depth: int = MAX_DEPTH,
    max_elements: int = MAX_ELEMENTS,
    max_bytes: int = MAX_BYTES,
) -> Element:
    """The ``Message`` element of a SCRIPT body, parsed safely. Raises only ``PmpError``."""
    if len(body) > max_bytes:
        detail = f"The message is larger than the {max_bytes} bytes allowed"
        raise PmpError(pb.ERROR_CODE_PAYLOAD_TOO_LARGE, detail, location=("/",))
    if not body.strip():
        raise refuse("/", "The message body is empty")
    _check_encoding(body)
    for mark in _DTD_MARKS:
        if mark in body:
            raise refuse("/", "The message has a DTD or an entity declaration; SCRIPT allows none")
    try:
        root = etree.fromstring(body, _PARSER)
    except etree.XMLSyntaxError as error:
        raise _not_well_formed(error) from None
    except (etree.LxmlError, ValueError):
        raise refuse("/", "The message is not well-formed XML") from None
    if root.getroottree().docinfo.doctype:
        raise refuse("/", "The message has a DTD: SCRIPT messages must not carry one")
    _check_shape(root, max_depth, max_elements)
    if root.tag != MESSAGE:
        if etree.QName(root).namespace != NS:
            raise refuse("/", f"The root element is not in the namespace {NS}")
        raise refuse("/", "The root element must be Message")
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


_COUNT: Final = etree.XPath("count(//*)")


@cache
def _deeper_than(depth: int) -> Any:
    """An XPath that is true when some element is more than ``depth`` levels deep (evaluated in C, unlike a walk)."""
    return etree.XPath("boolean(" + "/*" * (depth + 1) + ")")


def _check_shape(root: Element, max_depth: int, max_elements: int) -> None:
    if _COUNT(root) > max_elements:
        raise refuse("/Message", f"The message has more than {max_elements} elements")
    if _deeper_than(max_depth)(root):
        raise refuse("/Message", f"The message nests elements more than {max_depth} deep")
