"""A partner state as the registry knows it: the inbound policy for its requesters, and how we reach its PMP.

This is the contract between the registry (which stores partners: ``pmp-gateway partners …``, gateway database) and
the two users of it: the inbound interstate checks (a partner's requests are held to its policy) and the outbound
fan-out (our users' queries are also sent to the enabled partners).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


class PartnerStatus(enum.StrEnum):
    ACTIVE = "active"
    DISABLED = "disabled"  # neither inbound nor outbound traffic (suspension is separate and immediate)


class PartnerProtocol(enum.StrEnum):
    PMIX = "pmix"  # POST <endpoint> with a pmix:PMPRequest (adapters/pmix)
    FHIR = "fhir"  # POST <endpoint>/$pdmp-history with Parameters (US PDMP IG)


@dataclass(slots=True, frozen=True)
class InboundPolicy:
    """Our disclosure rules for requesters from that state (as RxCheck sets per state): the requester roles
    allowed, by NCPDP/NUCC taxonomy code, and the patient fields a request must carry."""

    allowed_taxonomies: frozenset[str]
    required_patient_fields: frozenset[str]  # of: "family", "given", "birth_date", "gender", "postal_code", "address"


@dataclass(slots=True, frozen=True)
class Outbound:
    """How our gateway asks that state's PMP (we are an OAuth client of theirs: private_key_jwt with our key)."""

    endpoint: str  # base URL of their interstate surface
    protocol: PartnerProtocol
    token_url: str  # their OAuth token endpoint
    client_id: str  # our client id at their end
    key_file: Path  # our private JWK (JSON) for the client assertion; kept out of the database
    scope: str = "pmp/interstate"
    timeout_seconds: float = 2.0
    enabled: bool = True


@dataclass(slots=True, frozen=True)
class Partner:
    state: str  # USPS code, upper case
    name: str
    status: PartnerStatus
    inbound: InboundPolicy
    outbound: Outbound | None  # None: they may ask us, we do not ask them
    default_for_roles: frozenset[str]  # pb.Role names (e.g. "ROLE_PRESCRIBER") whose queries include this state
    eds_id: str  # the registry EDS (kind "partner") whose OAuth clients are this state's hub

    @property
    def active(self) -> bool:
        return self.status is PartnerStatus.ACTIVE


class PartnerDirectory(Protocol):
    """Hot-path reads, cached like the rest of the registry."""

    def partner(self, state: str) -> Partner | None: ...

    def partner_for_eds(self, eds_id: str) -> Partner | None:
        """The partner whose hub the EDS is (None for an ordinary EDS)."""
        ...

    def outbound_partners(self) -> Sequence[Partner]:
        """Active partners with an enabled outbound configuration."""
        ...
