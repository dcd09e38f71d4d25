"""Deterministic ``urn:uuid`` fullUrls and the FHIR id rule.

A Bundle's entries link to each other by fullUrl. Deriving the UUID (version 5, RFC 9562) from the PMP's
``source`` and a stable key of the thing (a dispensation id, a pharmacy's NCPDP id, …) means the same answer
renders the same bytes and the same pharmacy gets the same fullUrl in every Bundle. ``uuid.uuid5`` builds a
``UUID`` object per call; this does the same SHA-1 and formats the hex directly, about three times faster, which
matters at ~45 ids per answer.
"""

from __future__ import annotations

import re
import uuid
from functools import lru_cache
from hashlib import sha1
from typing import Final

NAMESPACE: Final = uuid.uuid5(uuid.NAMESPACE_URL, "urn:pmp-gateway:fhir")
_NS_BYTES: Final = NAMESPACE.bytes
_VARIANT: Final = {c: "89ab"[int(c, 16) & 3] for c in "0123456789abcdef"}  # RFC 9562 variant bits
_FHIR_ID: Final = re.compile(r"[A-Za-z0-9\-.]{1,64}")


def uuid5_urn(name: str) -> str:
    """``urn:uuid:`` + ``uuid.uuid5(NAMESPACE, name)``, without building a ``UUID``."""
    h = sha1(_NS_BYTES + name.encode(), usedforsecurity=False).hexdigest()
    return f"urn:uuid:{h[:8]}-{h[8:12]}-5{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:32]}"


cached_uuid5_urn: Final = lru_cache(maxsize=1 << 16)(uuid5_urn)
"""``uuid5_urn`` remembered for the last 65,536 names (~10 MB): pharmacies, prescribers and a patient's
dispensations recur from answer to answer, and a hit costs a tenth of a hash."""


def is_fhir_id(value: str) -> bool:
    """True when ``value`` may be a resource id (R4 ``id``: 1–64 of ``A-Z a-z 0-9 - .``)."""
    return _FHIR_ID.fullmatch(value) is not None
