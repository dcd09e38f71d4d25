"""PMIX codec: interstate hub messages (PMIX-NIEM as the HL7 US PDMP IG maps it, standards.md §3) to and from the
internal vocabulary — for a partner state asking us, and for us asking a partner state.

A pure codec: no I/O apart from reading its XSD files once per exchange namespace, no policy. The PMIX IEPD is not
public, so the messages follow the project's own schema (``schema/``, docs/pmix.md), written from the element names
the IG's mapping gives; the exchange namespace (``pmix:``) is unknown and a setting (``exchange_ns``, default
``DEFAULT_EXCHANGE_NS``). Inbound documents are parsed with a hardened lxml parser and validated against the schema
compiled for that namespace; outbound documents are fitted, escaped text built to the schema, and the tests validate
every one.

Inbound (``POST /interstate/pmix``)::

    query = parse_request(body, exchange_ns=…, today=…, default_lookback_days=…, max_lookback_days=…)
    … the pipeline runs on query.request (requester.role = the clinical role, requester.state = requesting state) …
    encode_report(answer, query=query, disclosing_state=…, now=…, exchange_ns=…)        # complete / no-data / …
    encode_refusal(error, query=query or None, disclosing_state=…, now=…, exchange_ns=…,
                   request_id=read_request_id(body, exchange_ns=…))                     # disallowed / error / …

Outbound (fan-out to a partner that speaks PMIX)::

    body = encode_request(request, request_id=…, requesting_state=…, disclosing_state=…, requester_taxonomy=…)
    report = decode_report(reply, exchange_ns=…, disclosing_state=…)   # PmpError(BACKEND_UNAVAILABLE) if malformed

Modules: ``parser`` (hardened parse), ``validation`` (schemas per namespace), ``request`` (decode a request),
``request_encoder`` (write one), ``report`` (write a report), ``refusal`` (refusals and ``pmix_status``),
``report_decoder`` (read a partner's report), ``roles`` (role text and taxonomy → ``pb.Role``), ``codes``
(namespaces and code lists); ``_read`` and ``_write`` (values and NIEM parts). What it shares with the NCPDP codec
(the hardened parse, places in refusals, fitted text) is ``adapters.xml``.
"""

from adapters.pmix.codes import (
    COMPLETE,
    DEFAULT_EXCHANGE_NS,
    DEFERRED,
    DISALLOWED,
    ERROR,
    J_NS,
    NC_NS,
    NO_DATA,
    PMP_NS,
    STATUSES,
    VERSION_MISMATCH,
)
from adapters.pmix.parser import parse_document
from adapters.pmix.refusal import encode_refusal, pmix_status
from adapters.pmix.report import AMBIGUOUS_TEXT, NO_DATA_TEXT, encode_report
from adapters.pmix.report_decoder import INVALID_REPORT, PmixReport, decode_report
from adapters.pmix.request import PmixQuery, parse_request, read_request_id
from adapters.pmix.request_encoder import encode_request
from adapters.pmix.roles import requester_role, role_text
from adapters.pmix.validation import validate

__all__ = [
    "AMBIGUOUS_TEXT",
    "COMPLETE",
    "DEFAULT_EXCHANGE_NS",
    "DEFERRED",
    "DISALLOWED",
    "ERROR",
    "INVALID_REPORT",
    "J_NS",
    "NC_NS",
    "NO_DATA",
    "NO_DATA_TEXT",
    "PMP_NS",
    "STATUSES",
    "VERSION_MISMATCH",
    "PmixQuery",
    "PmixReport",
    "decode_report",
    "encode_refusal",
    "encode_report",
    "encode_request",
    "parse_document",
    "parse_request",
    "pmix_status",
    "read_request_id",
    "requester_role",
    "role_text",
    "validate",
]
