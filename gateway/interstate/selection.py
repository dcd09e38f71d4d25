"""Which partner states a request is sent to.

* A request that came in from a partner hub (``requester.state`` set) is never fanned out again, whatever it says:
  loop protection — two hubs that list each other would otherwise bounce a query between them.
* ``states == ["NONE"]``: this state only (the inbound side sets it on partner requests, a user may ask for it).
* ``states`` named: those states, in the order given, repeats and this state's own code dropped. A state that is
  not an active partner we may ask is not called; its part of the answer says so (status ``error``), so the user
  sees that it was not asked rather than a silent gap.
* ``states`` empty: the partners whose ``default_for_roles`` holds the requester's role.
* Only a requester whose role has a provider taxonomy (``taxonomy.taxonomy_of``: the clinical roles) is ever sent
  to a partner: a partner decides by taxonomy, and a law-enforcement officer or a regulator sent without one would
  look like a clinician. Each state such a requester names is "not asked" (status ``disallowed``); with no state
  named, none is asked.
* A partner state suspended here (``pmp-gateway suspend state XX``) is not asked: status ``error``, detail "not
  asked: suspended" (likewise when the suspension list cannot be confirmed: fail closed). The state was not called,
  so its part of the answer says why rather than leave a silent gap.

"NONE" beside state codes, or a value that is not a USPS code, is an invalid request.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from gateway.interstate.answer import PartnerAnswer, PmixStatus
from gateway.interstate.partners import Partner, PartnerDirectory
from gateway.interstate.taxonomy import taxonomy_of
from gateway.policy.suspension.errors import SuspensionStateUnavailable
from gateway.policy.suspension.live import SuspensionSet
from protos.errors import PmpError
from protos.pmp.v1 import pmp_pb2 as pb

THIS_STATE_ONLY: Final = "NONE"
_STATE: Final = re.compile(r"[A-Z]{2}")
SUSPENDED: Final = "not asked: suspended"
SUSPENSIONS_UNKNOWN: Final = "not asked: the suspension list could not be confirmed"
NO_TAXONOMY: Final = "not asked: partner states are asked for clinical requesters only"


@dataclass(frozen=True, slots=True)
class Selection:
    """The partners to call, and the states asked that cannot be (already answered, as errors)."""

    partners: tuple[Partner, ...] = ()
    not_asked: tuple[PartnerAnswer, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.partners or self.not_asked)


NOBODY: Final = Selection()


def _askable(partner: Partner | None) -> str:
    """Why ``partner`` cannot be asked ("" when it can)."""
    if partner is None:
        return "not a partner state of this PMP"
    if not partner.active:
        return "the exchange with this state is disabled"
    if partner.outbound is None or not partner.outbound.enabled:
        return "this PMP does not send queries to that state"
    return ""


def _suspended(partner: Partner, suspensions: SuspensionSet | None) -> PartnerAnswer | None:
    """``partner``'s answer when it is suspended here (or we cannot tell: fail closed), else None."""
    if suspensions is None:
        return None
    try:
        found = suspensions.is_suspended(state=partner.state)
    except SuspensionStateUnavailable:
        return PartnerAnswer(partner.state, PmixStatus.ERROR, detail=SUSPENSIONS_UNKNOWN)
    return None if found is None else PartnerAnswer(partner.state, PmixStatus.ERROR, detail=SUSPENDED)


def select(
    search: pb.SearchHistoryRequest,
    directory: PartnerDirectory,
    *,
    own_state: str,
    suspensions: SuspensionSet | None = None,
) -> Selection:
    """The partners ``search`` goes to. Raises ``PmpError`` (INVALID_REQUEST) for a malformed ``states``."""
    if search.requester.state:
        return NOBODY
    asked = [s.strip().upper() for s in search.states]
    if THIS_STATE_ONLY in asked:
        if len(asked) > 1:
            raise PmpError(pb.ERROR_CODE_INVALID_REQUEST, "states: NONE (this state only) cannot name other states")
        return NOBODY
    clinical = bool(taxonomy_of(search.requester.role))
    candidates: list[Partner] = []
    not_asked: list[PartnerAnswer] = []
    if not asked:
        if not clinical:
            return NOBODY
        role = pb.Role.Name(search.requester.role)
        candidates = [p for p in directory.outbound_partners() if role in p.default_for_roles]
    for state in dict.fromkeys(asked):
        if not _STATE.fullmatch(state):
            raise PmpError(pb.ERROR_CODE_INVALID_REQUEST, "states: each must be a two-letter USPS state code")
        if state == own_state:
            continue
        if not clinical:
            not_asked.append(PartnerAnswer(state, PmixStatus.DISALLOWED, detail=NO_TAXONOMY))
            continue
        partner = directory.partner(state)
        why = _askable(partner)
        if why or partner is None:
            not_asked.append(PartnerAnswer(state, PmixStatus.ERROR, detail=why))
        else:
            candidates.append(partner)
    partners: list[Partner] = []
    for partner in candidates:
        refused = _suspended(partner, suspensions)
        if refused is None:
            partners.append(partner)
        else:
            not_asked.append(refused)
    return Selection(tuple(partners), tuple(not_asked))
