"""NCPDP SCRIPT codec (2017071 and 10.6): ``RxHistoryRequest`` in, ``pb.SearchHistoryRequest``;
``pb.SearchHistoryResponse`` and ``PmpError`` out as ``RxHistoryResponse`` (Approved / Denied) or ``Error``.

A pure codec: no I/O apart from reading its two XSD files once, no policy. lxml parses and validates what comes in;
replies are written as fitted, escaped text (``_write``: five times cheaper than an lxml tree for a 25-dispensation
answer) and every one is parsed and validated in the tests. The route uses it in four steps::

    root = parse_message(body)                     # hardened parse; PmpError on anything hostile or not SCRIPT
    query = decode_rx_history_request(root, today=…, default_lookback_days=…, max_lookback_days=…)
    … the pipeline runs on query.request …
    encode_rx_history_response(answer, query=query, message_id=…, now=…)      # Approved / Denied
    encode_refusal(error, query=query or None, header=read_header(root) or None, message_id=…, now=…)

Design decisions (each module's docstring says more):

* **Version** (``header``) — from the root's attributes only: 10.6 is ``version="010" release="006"``; 2017071 is
  ``TransactionVersion``/``StructuresVersion`` ``20170715`` or, leniently, ``version="2017071"``; else UNSUPPORTED.
  Replies are in the request's version; a message whose version cannot be told gets its ``Error`` in 10.6.
* **Inbound validation** (``validation``) — after the decoder's own checks (the precise messages), every request
  is validated against its schema: 2017071 against the project's ``schema/rxhistory-2017071.xsd`` (written from the
  IG's element paths; request element order is free because 2017071's is unverified), 10.6 against the public
  schema with one relaxation — ``BenefitsCoordination`` optional, since a PMP has no payer and its callers omit it.
  It costs 10–25 µs per request. Outbound messages are built to the schemas and validated in the tests only.
* **Who asks** (``request``) — a ``Prescriber`` is ROLE_PRESCRIBER (its ``PrescriberAgent`` makes the agent an
  unlicensed delegate on the prescriber's behalf); a ``Pharmacy`` with its ``Pharmacist`` is ROLE_PHARMACIST with
  the pharmacy as ``organization`` (``NCPDP:<id>``). 10.6 has no ``RequestedDates``: its period is the default.
* **No data** (``response``) — NOT_FOUND and "found, no dispensation in the period" give the same ``Denied``, so
  the answer does not reveal whether the PMP knows the person; AMBIGUOUS is ``Denied`` without candidates; more
  than 300 (or than were returned) is said in ``Approved/Note`` with ApprovalReasonCode AQ. 10.6 replies carry one
  empty ``BenefitsCoordination`` (the schema requires 1..3).
* **Denied or Error** (``errors``) — ``encode_refusal`` answers PATIENT_NOT_FOUND, PATIENT_AMBIGUOUS and FORBIDDEN
  with a ``Denied`` RxHistoryResponse once the request was decoded, everything else with an ``Error`` whose
  ``Code`` comes from ``ERROR_CODES`` (600 try later, 601 unable to process, 602 system error, 900 rejected).
* **Quantity unit** (``codes``) — ASAP DSP11 01 each / 02 mL / 03 g → NCIt C64933 / C28254 / C48155 (else C38046
  unspecified), NCPDP's QuantityUnitOfMeasure terminology: 10.6 ``UnitSourceCode`` AC + ``PotencyUnitCode``,
  2017071 ``QuantityUnitOfMeasure/Code``; ``CodeListQualifier`` 87.

Modules: ``parser`` (hardened parse), ``header`` (version, header in and out), ``request`` (decode),
``response`` (Approved / Denied), ``errors`` (Error, refusals), ``validation`` (schemas), ``codes`` (code lists),
``interstate`` (the states a request names in ``Header/Mailbox/MailboxID``, the state on each record of a merged
answer in ``HistorySource/Source``, missing states in the Note);
``_read`` and ``_write`` (reading and writing values), ``_lxml`` (the untyped import). Schemas: ``schema/``.
"""

from adapters.ncpdp.codes import NS, V10_6, V2017071, Version
from adapters.ncpdp.errors import DENIED_CODES, ERROR_CODES, encode_error, encode_refusal, error_code
from adapters.ncpdp.header import MessageHeader, message_version, read_header
from adapters.ncpdp.parser import parse_message
from adapters.ncpdp.request import RxHistoryQuery, decode_rx_history_request
from adapters.ncpdp.response import encode_denied, encode_rx_history_response
from adapters.ncpdp.validation import validate

__all__ = [
    "DENIED_CODES",
    "ERROR_CODES",
    "NS",
    "V10_6",
    "V2017071",
    "MessageHeader",
    "RxHistoryQuery",
    "Version",
    "decode_rx_history_request",
    "encode_denied",
    "encode_error",
    "encode_refusal",
    "encode_rx_history_response",
    "error_code",
    "message_version",
    "parse_message",
    "read_header",
    "validate",
]
