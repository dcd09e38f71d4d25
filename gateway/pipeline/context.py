"""What one request carries through the pipeline."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from gateway.budget import Deadline
from protos.pmp.v1 import pmp_pb2 as pb


@dataclass(slots=True)
class RequestContext:
    """Mutable per-request state. ``notes`` records what each stage decided (ids and outcomes, never PHI)."""

    request_id: str
    protocol: str  # "fhir" | "ncpdp" | "pmix"
    operation: str  # "pdmp-history" | "dispense-search" | …
    deadline: Deadline
    search: pb.SearchHistoryRequest
    response: pb.SearchHistoryResponse | None = None
    authorization: str = ""  # the request's Authorization header, for the authenticate stage only
    client_id: str = ""  # the OAuth client (set by authenticate)
    eds_id: str = ""  # the EDS that client belongs to (set by authenticate; identify checks the user's link)
    scopes: frozenset[str] = frozenset()
    # What a PMIX message claims about its requester, judged by the partner_policy stage (until then untrusted):
    requester_taxonomy: str = ""  # the end user's NUCC taxonomy code (PMIX; FHIR $pdmp-history's PractitionerRole)
    requesting_state: str = ""  # USPS code; search.requester.state is set only for a partner's request
    # Checks of the paging cursor / patient id the request carries: each takes the caller's EDS id and raises
    # PmpError when the token was issued to another EDS (run by the issued_to stage, after authenticate).
    issued_to: list[Callable[[str], None]] = field(default_factory=list)
    notes: dict[str, str] = field(default_factory=dict)
