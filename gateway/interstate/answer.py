"""One partner state's part of an answer: its PMIX status, the dispensations it returned, and one line of detail.

A partner call ends in exactly one ``PartnerAnswer`` — a failure included (status ``error``), so a merged answer
names every state asked and a gap is never silent. Clients signal failures with ``PartnerCallError``, whose text is
one PHI-free line ("HTTP 503", "connection refused") for our logs and metrics; our user is only told its ``reason``
(``UNAVAILABLE``, ``REFUSED``; ``TIMED_OUT`` and the circuit's own): how a partner or our credentials failed is
operational detail — "our client key file cannot be read", "invalid_client" — not the user's business.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final

from protos.pmp.v1 import pmp_pb2 as pb


class PmixStatus(enum.StrEnum):
    """PMIXStatusCode (standards.md §1.8): how one state's part of the answer went."""

    COMPLETE = "complete"  # data returned for a matching person
    NO_DATA = "no-data"  # no person, or no dispensation in the period
    DISALLOWED = "disallowed"  # that state refused our requester
    DEFERRED = "deferred"  # cannot answer now (e.g. an ambiguous match sent to manual review)
    ERROR = "error"  # no answer: timed out, unreachable, refused our credentials, unreadable, circuit open


@dataclass(slots=True, frozen=True)
class PartnerAnswer:
    state: str
    status: PmixStatus
    dispensations: tuple[pb.Dispensation, ...] = ()
    detail: str = ""

    @property
    def failed(self) -> bool:
        """The partner gave no usable answer (the merged answer is then partial)."""
        return self.status in (PmixStatus.ERROR, PmixStatus.DISALLOWED, PmixStatus.DEFERRED)


TIMED_OUT: Final = "timed out"
UNAVAILABLE: Final = "unavailable"
REFUSED: Final = "refused our request"


class PartnerCallError(Exception):
    """A partner call that produced no answer: transport failure, HTTP error, an answer that cannot be read, our
    own credentials missing. ``str(error)`` is one line without PHI, for logs; ``reason`` is what the user sees."""

    def __init__(self, detail: str, *, reason: str = UNAVAILABLE) -> None:
        super().__init__(detail)
        self.reason = reason


class PartnerNotAsked(Exception):
    """The request cannot be put to that partner at all (e.g. PMIX needs the surname and full birth date, which a
    query by an earlier answer's patient id lacks). Not the partner's failure: its circuit is left as it was."""
