"""What one request carries through the pipeline."""

from __future__ import annotations

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
    client_id: str = ""  # the OAuth client (authenticate, issue 5)
    scopes: frozenset[str] = frozenset()
    notes: dict[str, str] = field(default_factory=dict)
