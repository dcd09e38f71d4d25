"""The NUCC provider-taxonomy code a partner state is told for our requester's role.

Partner states decide by taxonomy (RxCheck's role management uses the NCPDP/NUCC list; ``InboundPolicy``), while
our registry holds a role. Each role is sent as the general code of its profession — the registry does not keep
the requester's specialty. Roles without a clinical taxonomy (law enforcement, regulators) are sent without one,
and the partner's policy decides (a partner's ``default_for_roles`` normally lists clinical roles only).
"""

from __future__ import annotations

from typing import Final

from protos.pmp.v1 import pmp_pb2 as pb

ROLE_TAXONOMY: Final[dict[pb.Role.ValueType, str]] = {
    pb.ROLE_PRESCRIBER: "208D00000X",  # General Practice (allopathic & osteopathic physicians)
    pb.ROLE_PHARMACIST: "183500000X",  # Pharmacist
    pb.ROLE_LICENSED_DELEGATE: "163W00000X",  # Registered Nurse
    pb.ROLE_UNLICENSED_DELEGATE: "183700000X",  # Pharmacy Technician
}


def taxonomy_of(role: pb.Role.ValueType) -> str:
    """The code for ``role``; "" for a role without a clinical taxonomy."""
    return ROLE_TAXONOMY.get(role, "")
