"""Every inbound PMIX byte goes through ``parse_document``: the shared hardened parse (``adapters.xml.safe``: no
DTD or entities, UTF-8 only, size, depth and element caps) with PMIX's wording and one of two sets of limits —
``REQUEST_LIMITS`` for a request, ``REPORT_LIMITS`` for a partner's report (hundreds of prescriptions).

The root element is the caller's to check (a request and a report have different roots). Every refusal is a
``PmpError`` — INVALID_REQUEST, or PAYLOAD_TOO_LARGE for the byte cap — whose ``location`` is ``/`` and whose
``detail`` never quotes the document: it may hold PHI. Nothing else is ever raised.
"""

from __future__ import annotations

from typing import Final

from adapters.xml._lxml import Element
from adapters.xml.safe import Limits, Wording, parse_untrusted

__all__ = ["REPORT_LIMITS", "REQUEST_LIMITS", "Limits", "parse_document"]

# A request is 6 levels deep and about 60 elements; a report's prescription is 8 deep and about 70 elements.
REQUEST_LIMITS: Final = Limits(max_bytes=1 << 20, max_depth=32, max_elements=1_000)
REPORT_LIMITS: Final = Limits(max_bytes=16 << 20, max_depth=32, max_elements=200_000)
_PMIX: Final = Wording(protocol="PMIX")


def parse_document(body: bytes, *, limits: Limits = REQUEST_LIMITS) -> Element:
    """The root element of a PMIX body, parsed safely. Raises only ``PmpError``."""
    return parse_untrusted(body, limits=limits, wording=_PMIX)
