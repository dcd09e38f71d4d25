"""Every inbound SCRIPT byte goes through ``parse_message``: the shared hardened parse (``adapters.xml.safe``: no
DTD or entities, UTF-8 only, size, depth and element caps) with SCRIPT's limits and wording, then the root must be
``Message`` in ``http://www.ncpdp.org/schema/SCRIPT``.

Every refusal is a ``PmpError`` (INVALID_REQUEST, or PAYLOAD_TOO_LARGE for the byte cap) whose ``location`` is an
XPath-like place (``/``, ``/Message``) and whose ``detail`` never quotes the message: it may hold PHI. Nothing else
is ever raised.
"""

from __future__ import annotations

from typing import Final

from adapters.ncpdp.codes import MESSAGE, NS
from adapters.xml._lxml import Element, etree
from adapters.xml.safe import Limits, Wording, parse_untrusted, refuse

__all__ = ["MAX_BYTES", "MAX_DEPTH", "MAX_ELEMENTS", "parse_message", "refuse"]

MAX_BYTES: Final = 1 << 20  # the gateway caps bodies earlier; this keeps the codec safe on its own
MAX_DEPTH: Final = 64  # an RxHistoryRequest is about 8 deep
MAX_ELEMENTS: Final = 2_000  # a typical request has about 40
_SCRIPT: Final = Wording(protocol="SCRIPT", tree_location="/Message")


def parse_message(
    body: bytes,
    *,
    max_depth: int = MAX_DEPTH,
    max_elements: int = MAX_ELEMENTS,
    max_bytes: int = MAX_BYTES,
) -> Element:
    """The ``Message`` element of a SCRIPT body, parsed safely. Raises only ``PmpError``."""
    limits = Limits(max_bytes=max_bytes, max_depth=max_depth, max_elements=max_elements)
    root = parse_untrusted(body, limits=limits, wording=_SCRIPT)
    if root.tag != MESSAGE:
        if etree.QName(root).namespace != NS:
            raise refuse("/", f"The root element is not in the namespace {NS}")
        raise refuse("/", "The root element must be Message")
    return root
