"""The partner_policy stage: a request from a partner state's hub is held to that partner's inbound policy (as
RxCheck holds requesters to each state's role and required-field settings), and no other request carries a
requesting state.

Who is a partner: the caller's EDS is of kind ``partner`` (the registry's cached client record), and the partner is
the one registered with that EDS (``RegistryPartnerDirectory.partner_for_eds``). The stage runs right after
authenticate and before identify, which does not look such a requester up in our user registry.

A partner request, in order — the requesting state is set before any refusal, so each is audited with it:

1. loop protection: ``search.states`` becomes ``["NONE"]`` (this state only), whatever the message asked;
2. ``requester.state`` := the partner's state, ``requester.user_id`` cleared (the requester is not one of our
   users); a message claiming another requesting state (``ctx.requesting_state``, the PMIX route's, or a state the
   decoder put in the requester) → FORBIDDEN;
3. an EDS of kind partner that no partner names, or a disabled partner → NOT_REGISTERED;
4. the PMIX route and FHIR ``$pdmp-history`` only, with ``pmp/interstate`` → FORBIDDEN / INSUFFICIENT_SCOPE;
5. the requester's identifiers must be well formed (NPI and DEA check digits, licence format) → INVALID_REQUEST,
   as for our own users; then the requester (``requester_refusal``), each → FORBIDDEN (PMIX ``disallowed``), the
   message naming the code, never a person: a NUCC taxonomy code is required (PMIX
   ``RequesterRoleTaxonomyCode`` or a code in ``RequesterRole``; FHIR the requester's ``PractitionerRole`` code
   or specialty, the delegate's for a delegate) and must be one the partner allows; the decoded role (PMIX role
   text or code; FHIR ``PractitionerRole``) must be one that code's own profession may ask in
   (``adapters.fhir.roles.CAPACITIES``: a pharmacist's or technician's code never makes a prescriber, a code of
   no known profession no role at all), and one that an allowed code denotes — a request stating no role, or a
   role its code contradicts, is refused, since the authorize stage would take an unstated role for a prescriber;
6. the partner's required patient fields → INVALID_REQUEST naming the missing fields (names only, no values).

Any other request: on the PMIX route, or on FHIR with ``pmp/interstate`` standing in for the FHIR scope →
FORBIDDEN (that scope is for partner hubs); ``requester.state`` is cleared, so neither such a refusal nor one before
this stage (a bad token) is audited under a state the message merely claims. With authentication off (local
experiments) no caller is known: a PMIX message's requesting state is taken as claimed, loop protection still
holds.

The partner directory is refreshed here at the start of every request (no I/O unless the registry changed), so
later stages — the outbound fan-out — read a current copy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Final

from adapters.fhir.codes import SYSTEM_NUCC
from adapters.fhir.roles import Profession, may_act_as, profession_of_code
from adapters.pmix.codes import TAXONOMY
from gateway.auth.scopes import INTERSTATE, REQUIRED_SCOPE
from gateway.interstate.directory import RegistryPartnerDirectory
from gateway.interstate.partners import InboundPolicy, Partner
from gateway.pipeline.context import RequestContext
from gateway.policy.registry.errors import RegistryUnavailableError
from gateway.policy.registry.resolve import check_formats
from gateway.policy.registry.store.base import RegistryStore
from protos.errors import PmpError
from protos.pmp.v1 import pmp_pb2 as pb

PMIX: Final = "pmix"
THIS_STATE_ONLY: Final = "NONE"  # SearchHistoryRequest.states: ask no partner
PARTNER_OPERATIONS: Final = frozenset({("fhir", "pdmp-history")})  # besides every PMIX operation

_ROLE_OF: Final[dict[Profession, pb.Role.ValueType]] = {
    Profession.PRESCRIBER: pb.ROLE_PRESCRIBER,
    Profession.PHARMACIST: pb.ROLE_PHARMACIST,
    Profession.LICENSED: pb.ROLE_LICENSED_DELEGATE,
    Profession.UNLICENSED: pb.ROLE_UNLICENSED_DELEGATE,
}

# Whether a patient query carries each field a partner may require (gateway.policy.registry.partners.PATIENT_FIELDS).
_PRESENT: Final[dict[str, Callable[[pb.PatientQuery], bool]]] = {
    "family": lambda q: bool(q.name.family.strip()),
    "given": lambda q: bool(q.name.given.strip()),
    "birth_date": lambda q: bool(q.birth_date.strip()),
    "gender": lambda q: q.gender != pb.GENDER_UNSPECIFIED,
    "postal_code": lambda q: bool(q.address.postal_code.strip()),
    "address": lambda q: bool(q.address.line1.strip()),
}


def roles_of(taxonomies: Iterable[str]) -> frozenset[pb.Role.ValueType]:
    """The roles the NUCC codes denote (a nurse or technician code: the delegate role a FHIR message gets)."""
    found = (profession_of_code(SYSTEM_NUCC, code) for code in taxonomies)
    return frozenset(_ROLE_OF[p] for p in found if p is not None)


def requester_refusal(policy: InboundPolicy, taxonomy: str, role: pb.Role.ValueType) -> str:
    """Why the partner's requester is refused ("" when allowed): a taxonomy code is required and must be listed;
    the role must be one that code's profession may ask in, and one that a listed code denotes — never an unstated
    role, which the authorize stage would otherwise take for a prescriber. The message names the code (a
    profession, no PHI), or says it is malformed."""
    code = taxonomy.strip().upper()
    if not code:
        return "a partner state's request must give the requester's NUCC taxonomy code; none was given"
    named = code if TAXONOMY.fullmatch(code) else "(malformed)"
    if code not in policy.allowed_taxonomies:
        return f"this PMP does not disclose to that requester role of that state: taxonomy code {named} is not allowed"
    if not may_act_as(profession_of_code(SYSTEM_NUCC, code), role):
        return f"the requester's stated role does not match its taxonomy code {named}"
    if role not in roles_of(policy.allowed_taxonomies):
        return f"this PMP does not disclose to that requester role of that state (taxonomy code {named})"
    return ""


def requester_allowed(policy: InboundPolicy, taxonomy: str, role: pb.Role.ValueType) -> bool:
    return not requester_refusal(policy, taxonomy, role)


def missing_fields(policy: InboundPolicy, patient: pb.PatientQuery) -> list[str]:
    return [f for f in sorted(policy.required_patient_fields) if f in _PRESENT and not _PRESENT[f](patient)]


def this_state_only(search: pb.SearchHistoryRequest) -> None:
    """Loop protection: a request that came in from a hub is never fanned out again."""
    del search.states[:]
    search.states.append(THIS_STATE_ONLY)


def hold_to_policy(ctx: RequestContext, partner: Partner | None) -> None:
    """Steps 1-6 of the module docstring for a request from a partner state's hub."""
    search = ctx.search
    requester = search.requester
    this_state_only(search)
    claimed = (ctx.requesting_state or requester.state).strip().upper()
    requester.ClearField("user_id")
    requester.ClearField("state")
    if partner is None:
        raise PmpError(pb.ERROR_CODE_NOT_REGISTERED, "the partner hub is not linked to a partner state")
    requester.state = partner.state
    ctx.notes[PartnerPolicy.name] = f"partner {partner.state}"
    if claimed and claimed != partner.state:
        raise PmpError(pb.ERROR_CODE_FORBIDDEN, "the request names a requesting state other than the partner hub's")
    if not partner.active:
        raise PmpError(pb.ERROR_CODE_NOT_REGISTERED, "the exchange with this partner state is disabled")
    if ctx.protocol != PMIX and (ctx.protocol, ctx.operation) not in PARTNER_OPERATIONS:
        raise PmpError(pb.ERROR_CODE_FORBIDDEN, "a partner state's hub may use PMIX and FHIR $pdmp-history only")
    if INTERSTATE not in ctx.scopes:
        raise PmpError(pb.ERROR_CODE_INSUFFICIENT_SCOPE, f"the token lacks scope {INTERSTATE}")
    check_formats(requester.practitioner, "requester")  # a malformed NPI, DEA number or licence: INVALID_REQUEST
    refusal = requester_refusal(partner.inbound, ctx.requester_taxonomy, requester.role)
    if refusal:
        raise PmpError(pb.ERROR_CODE_FORBIDDEN, refusal)
    missing = missing_fields(partner.inbound, search.patient)
    if missing:
        fields = ", ".join(missing)
        raise PmpError(pb.ERROR_CODE_INVALID_REQUEST, f"requests from that state must give the patient's {fields}")


def hold_in_state(ctx: RequestContext) -> None:
    """A caller that is not a partner hub: no interstate surface, no requesting state (not even in the audit record
    of its refusal)."""
    ctx.search.requester.ClearField("state")
    if ctx.protocol == PMIX:
        raise PmpError(pb.ERROR_CODE_FORBIDDEN, "the interstate surface answers partner states' hubs only")
    if INTERSTATE in ctx.scopes and REQUIRED_SCOPE.get(ctx.protocol) not in ctx.scopes:
        raise PmpError(pb.ERROR_CODE_FORBIDDEN, f"{INTERSTATE} is for partner states' hubs")


class PartnerPolicy:
    name = "partner_policy"

    def __init__(self, registry: RegistryStore, partners: RegistryPartnerDirectory) -> None:
        self._registry = registry
        self._partners = partners

    async def __call__(self, ctx: RequestContext) -> None:
        try:
            await self._partners.refresh()
            record = await self._registry.get_client_record(ctx.client_id) if ctx.client_id else None
        except RegistryUnavailableError:
            raise PmpError(
                pb.ERROR_CODE_BACKEND_UNAVAILABLE, "the partner registry is unavailable", retry_after=1.0
            ) from None
        if record is not None and record.eds.is_partner:
            hold_to_policy(ctx, self._partners.partner_for_eds(record.eds.id))
        elif ctx.client_id:
            hold_in_state(ctx)
        elif ctx.protocol == PMIX:  # authentication off: nobody to hold to a policy
            this_state_only(ctx.search)
            ctx.search.requester.state = ctx.requesting_state.strip().upper() or ctx.search.requester.state
        else:
            ctx.search.requester.ClearField("state")
