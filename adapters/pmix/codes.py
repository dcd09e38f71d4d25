"""The constants of the PMIX codec: namespaces, element names, code lists and the maps between them and ``protos``.

Names are from standards.md §3 (the HL7 US PDMP IG's PMIX mapping) unless marked *ours*: the PMIX IEPD is not
public, so the elements it would define for routing, status and alerts are the project's own, in the exchange
namespace (docs/pmix.md lists them).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Final

from protos.pmp.v1 import pmp_pb2 as pb

# The exchange namespace's real URI is not public: it is a setting, and this is its default.
DEFAULT_EXCHANGE_NS: Final = "urn:pmp-gateway:pmix:exchange:1"
PMP_NS: Final = "http://pmixpmp.org/niem/4.0/extension"  # [V] the IG's PMIX mapping target
NC_NS: Final = "http://release.niem.gov/niem/niem-core/4.0/"
J_NS: Final = "http://release.niem.gov/niem/domains/jxdm/6.0/"
PMP: Final = "{" + PMP_NS + "}"
NC: Final = "{" + NC_NS + "}"
J: Final = "{" + J_NS + "}"

REQUEST_ROOT: Final = "PMPRequest"
REPORT_ROOT: Final = "PMPPrescriptionReport"

# PMIXStatusCode (standards.md §1.8).
COMPLETE: Final = "complete"
NO_DATA: Final = "no-data"
DISALLOWED: Final = "disallowed"
ERROR: Final = "error"
DEFERRED: Final = "deferred"
VERSION_MISMATCH: Final = "version-mismatch"
STATUSES: Final = frozenset({COMPLETE, NO_DATA, DISALLOWED, ERROR, DEFERRED, VERSION_MISMATCH})
ANSWERED: Final = frozenset({COMPLETE, NO_DATA})  # a source with any other status left a gap in the answer

GENDER_IN: Final = {"M": pb.GENDER_MALE, "F": pb.GENDER_FEMALE, "U": pb.GENDER_UNKNOWN}
GENDER_OUT: Final = {pb.GENDER_MALE: "M", pb.GENDER_FEMALE: "F", pb.GENDER_UNKNOWN: "U"}

# Code lists the schema enumerates (standards.md §1.8); a stored value outside them is not sent.
PAYMENT_CODES: Final = frozenset({"01", "02", "03", "04", "05", "06", "07", "99"})  # PMIXMethodofPayment
TRANSMISSION_CODES: Final = frozenset({"01", "02", "03", "04", "05", "06", "99"})  # PMIXTransmissionFormRxOrigin…
ALERT_CODES: Final = frozenset({f"{n:02d}" for n in range(1, 13)} | {"99"})  # PMIXPatientAlertCatCode

# pmp:DrugUnitOfMeasureText carries the dispensed quantity's unit, ASAP DSP11 (pb.Dispensation.quantity_unit).
UNIT_TEXTS: Final = {"01": "each", "02": "mL", "03": "g"}
UNIT_CODES: Final = {text.lower(): code for code, text in UNIT_TEXTS.items()}

NDC_PRODUCT_QUALIFIERS: Final = frozenset({"", "01"})  # ASAP DSP07: 01 = NDC (as the other codecs)
NDC_QUALIFIER: Final = "01"
NOT_PARTIAL: Final = frozenset({"", "00"})  # ASAP DSP13 00 = not a partial fill (as adapters.fhir)
PARTIAL: Final = "01"

TAXONOMY: Final = re.compile(r"[0-9]{3}[0-9A-Z]{6}X")  # NUCC provider taxonomy code

# USPS codes of the states and territories that run (or may run) a PMP.
USPS_STATES: Final = frozenset(
    {
        "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID", "IL", "IN", "IA", "KS", "KY",
        "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM", "NY", "NC", "ND", "OH",
        "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA", "WV", "WI", "WY",
        "AS", "GU", "MP", "PR", "VI",
    }
)  # fmt: skip

_URI: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:[^\s\"'<>&\\{}|^`]{1,250}")
_RESERVED: Final = frozenset(
    {PMP_NS, NC_NS, J_NS, "http://www.w3.org/2001/XMLSchema", "http://www.w3.org/XML/1998/namespace"}
)


@lru_cache(maxsize=16)
def exchange_namespace(uri: str) -> str:
    """``uri`` checked as an exchange namespace: an absolute URI that can stand in an XML attribute as is, and not
    one of the namespaces the codec gives another meaning. A bad value is a configuration error: ValueError."""
    if not _URI.fullmatch(uri) or uri in _RESERVED:
        raise ValueError("the PMIX exchange namespace must be an absolute URI other than the pmp:, nc: and j: ones")
    return uri
