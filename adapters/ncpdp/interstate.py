"""Interstate in SCRIPT: which states a request asks (in), and whose records an answer holds (out).

SCRIPT has no element for either, so this codec uses the trading-partner-defined ones (documented in docs/api.md):

* **In: ``Header/Mailbox/MailboxID``** (10.6 ``an..35``, "Trading Partner Defined"; 2017071 carries ``Mailbox``
  as in 10.6) = ``PMP:`` and the partner states to ask besides this one, comma-separated (``PMP:CO,NM``), or
  ``PMP:NONE`` for this state only. A MailboxID that does not start with ``PMP:`` is another trading partner's
  business and is ignored (the default set for the requester's role applies); one that does but names anything
  else than two-letter USPS codes, or ``NONE`` beside codes, is INVALID_REQUEST.
* **Out: ``MedicationDispensed/HistorySource/Source``** on every record of an interstate answer:
  ``SourceQualifier`` ``P2`` (the record comes from a pharmacy's report; 10.6 SRC-010-01: PC prescriber, P2
  pharmacy, PY payer) and ``SourceDescription`` ``<state> PMP`` — the state program that holds it. The 10.6 schema
  has the element; the project's 2017071 schema carries the same one.
* **Out: a partial answer** says so in ``Approved/Note`` (or the ``Denied`` reason when nobody had data) with the
  token ``PARTIAL - MISSING CO,NM``: the states that did not answer, refused or deferred.
"""

from __future__ import annotations

import re
from typing import Final

from adapters.ncpdp._read import Node
from protos.pmp.v1 import pmp_pb2 as pb

STATES_PREFIX: Final = "PMP:"
THIS_STATE_ONLY: Final = "NONE"
SOURCE_QUALIFIER: Final = "P2"  # pharmacy: the dispensation was reported by the pharmacy that filled it
MAILBOX_LENGTH: Final = 35
PARTIAL_LENGTH: Final = 40  # of the Note's 70 characters
_STATE: Final = re.compile(r"[A-Z]{2}")
_MISSING: Final = frozenset({"error", "disallowed", "deferred"})


def read_states(message: Node) -> list[str]:
    """The states ``Header/Mailbox/MailboxID`` asks for ([] when it says nothing about states)."""
    mailbox = message.need("Header").get("Mailbox")
    node = mailbox.get("MailboxID") if mailbox is not None else None
    if node is None:
        return []
    value = node.text(MAILBOX_LENGTH)
    if not value.upper().startswith(STATES_PREFIX):
        return []
    states = [part.strip().upper() for part in value[len(STATES_PREFIX) :].split(",")]
    valid = all(s == THIS_STATE_ONLY or _STATE.fullmatch(s) for s in states)
    if not valid or (THIS_STATE_ONLY in states and len(states) > 1):
        raise node.error("must be PMP: and comma-separated state codes, or PMP:NONE")
    return states


def source_of(state: str) -> str:
    """The ``HistorySource/Source`` of a record held by ``state``'s PMP ("" when the state is not known)."""
    if not _STATE.fullmatch(state):
        return ""
    return (
        f"<Source><SourceQualifier>{SOURCE_QUALIFIER}</SourceQualifier>"
        f"<SourceDescription>{state} PMP</SourceDescription></Source>"
    )


def missing_states(response: pb.SearchHistoryResponse) -> list[str]:
    """The states asked whose part of the answer is missing."""
    return [s.state for s in response.sources if s.status in _MISSING and _STATE.fullmatch(s.state)]


def partial_token(states: list[str]) -> str:
    """The Note token of a partial answer ("" when nothing is missing); past ``PARTIAL_LENGTH`` characters the
    last states are counted (``…,AZ +3``) so the token always fits beside the indicators."""
    if not states:
        return ""
    shown = list(states)
    while True:
        more = len(states) - len(shown)
        token = f"PARTIAL - MISSING {','.join(shown)}" + (f" +{more}" if more else "")
        if len(token) <= PARTIAL_LENGTH or len(shown) == 1:
            return token
        shown.pop()
