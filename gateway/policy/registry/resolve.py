"""Who is asking: the end user a message names, resolved against the registry (the identify stage's rules).

In order, each refusal a ``PmpError`` whose detail names the rule and never echoes an identifier:

1. The OAuth client must be registered and active, and its EDS active (suspended → SUSPENDED; anything else
   → NOT_REGISTERED). The authenticate stage checks this too; identify does not rely on it.
2. Formats first: an NPI (Luhn), DEA number (check digit) or state licence that is malformed — the end user's or
   the named supervisor's — is INVALID_REQUEST, before any lookup. A message naming no identifier is too.
3. The end user is looked up by the message's NPI, else DEA number, else state licence (with its state when the
   message gives a USPS code). They must be registered, active, not expired and linked to this EDS; an NPI in the
   message must be the one registered. Else NOT_REGISTERED (a suspended user: SUSPENDED).
4. A delegate — a delegate role in the registry, or a message naming someone on whose behalf they act — must have
   a supervision that both the supervisor and the division approved, by a supervisor who is active and not
   expired. When the message names the supervisor it must be one of those; when it does not, the registry's one
   approved supervisor is taken (several → INVALID_REQUEST: name one). Else NOT_REGISTERED.

Then the registry's word replaces the message's claims (``ResolvedUser.apply_to``): the role, the user id, and the
supervisor (``on_behalf_of``). The FHIR adapter puts a delegate in ``requester.practitioner`` and the
authorized practitioner (their supervisor) in ``on_behalf_of``; NCPDP and the ``X-PMP-End-User`` header do the
same.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from gateway.policy.registry.errors import RegistryConflictError, RegistryUnavailableError
from gateway.policy.registry.identifiers import (
    is_valid_dea,
    is_valid_npi,
    is_valid_state,
    is_valid_state_license,
    normalize_dea,
    normalize_license,
    normalize_state,
)
from gateway.policy.registry.model import Eds, EdsStatus, EndUser, UserStatus
from gateway.policy.registry.store.base import RegistryStore
from protos.errors import PmpError
from protos.pmp.v1 import pmp_pb2 as pb


@dataclass(slots=True, frozen=True)
class ResolvedUser:
    """The registered end user a request names, and for a delegate the supervisor they act for."""

    user: EndUser
    supervisor: EndUser | None = None

    @property
    def role(self) -> pb.Role.ValueType:
        return self.user.role.pb

    def apply_to(self, requester: pb.Requester) -> None:
        """The registry replaces what the message claims: role, user id, supervisor."""
        requester.role = self.user.role.pb
        requester.user_id = self.user.id
        if self.supervisor is not None:
            requester.on_behalf_of.CopyFrom(self.supervisor.as_practitioner())
        else:
            requester.ClearField("on_behalf_of")


def _not_registered(detail: str) -> PmpError:
    return PmpError(pb.ERROR_CODE_NOT_REGISTERED, detail)


def _invalid(detail: str) -> PmpError:
    return PmpError(pb.ERROR_CODE_INVALID_REQUEST, detail)


def _unavailable() -> PmpError:
    return PmpError(pb.ERROR_CODE_BACKEND_UNAVAILABLE, "the user registry is unavailable", retry_after=1.0)


def identified(p: pb.Practitioner) -> bool:
    return bool(p.npi.strip() or p.dea.strip() or p.state_license.strip())


def check_formats(p: pb.Practitioner, who: str) -> None:
    """INVALID_REQUEST for a malformed NPI, DEA number or state licence of ``who`` ("end user", "supervisor")."""
    if p.npi.strip() and not is_valid_npi(p.npi.strip()):
        raise _invalid(f"the {who}'s NPI is not a valid NPI (check digit)")
    if p.dea.strip() and not is_valid_dea(normalize_dea(p.dea)):
        raise _invalid(f"the {who}'s DEA number is not a valid DEA number (format or check digit)")
    if p.state_license.strip() and not is_valid_state_license(normalize_license(p.state_license)):
        raise _invalid(f"the {who}'s state licence number is malformed")


async def find_practitioner(store: RegistryStore, p: pb.Practitioner) -> EndUser | None:
    """The registered user with ``p``'s NPI, else DEA number, else state licence (formats already checked)."""
    try:
        if p.npi.strip():
            found = await store.find_user_by_identifier("npi", p.npi)
            if found is not None:
                return found
        if p.dea.strip():
            found = await store.find_user_by_identifier("dea", p.dea)
            if found is not None:
                return found
        if p.state_license.strip():
            state = normalize_state(p.license_state)
            return await store.find_user_by_identifier(
                "license", p.state_license, license_state=state if is_valid_state(state) else ""
            )
    except RegistryConflictError:
        raise _not_registered(
            "the state licence is registered in several states: the request must name its state"
        ) from None
    return None


async def resolve_eds(store: RegistryStore, client_id: str) -> Eds:
    """The EDS of an authenticated OAuth client; refused unless client and EDS are active."""
    if not client_id:
        raise PmpError(pb.ERROR_CODE_UNAUTHENTICATED, "the request is not made by an authenticated EDS client")
    try:
        record = await store.get_client_record(client_id)
    except RegistryUnavailableError:
        raise _unavailable() from None
    if record is None or not record.client.active:
        raise _not_registered("the OAuth client is not registered or not active")
    if record.eds.status is EdsStatus.SUSPENDED:
        raise PmpError(pb.ERROR_CODE_SUSPENDED, "the EDS is suspended")
    if record.eds.status is not EdsStatus.ACTIVE:
        raise _not_registered("the EDS is not active")
    return record.eds


async def resolve_end_user(store: RegistryStore, *, eds_id: str, requester: pb.Requester, today: date) -> ResolvedUser:
    """The registered end user ``requester`` names through EDS ``eds_id`` (rules in the module docstring)."""
    check_formats(requester.practitioner, "end user")
    names_supervisor = identified(requester.on_behalf_of)
    if names_supervisor:
        check_formats(requester.on_behalf_of, "supervisor")
    if not identified(requester.practitioner):
        raise _invalid("the request does not identify its end user (NPI, DEA number or state licence)")
    try:
        user = await find_practitioner(store, requester.practitioner)
        if user is None:
            raise _not_registered("the end user is not registered")
        _check_usable(user, today, "end user")
        if requester.practitioner.npi.strip() and user.npi and user.npi != requester.practitioner.npi.strip():
            raise _not_registered("the end user's NPI does not match the registration")
        if eds_id not in user.eds_ids:
            raise _not_registered("the end user is not registered with this EDS")
        if not (user.role.is_delegate or names_supervisor):
            return ResolvedUser(user)
        if not user.role.is_delegate:
            raise _not_registered("the end user is not registered as a delegate")
        return ResolvedUser(user, await _supervisor(store, user, requester.on_behalf_of, names_supervisor, today))
    except RegistryUnavailableError:
        raise _unavailable() from None


def _check_usable(user: EndUser, today: date, who: str) -> None:
    if user.status is UserStatus.SUSPENDED:
        raise PmpError(pb.ERROR_CODE_SUSPENDED, f"the {who} is suspended")
    if user.status is not UserStatus.ACTIVE:
        raise _not_registered(f"the {who}'s registration is not active")
    if user.expired(today):
        raise _not_registered(f"the {who}'s registration has expired")


async def _supervisor(
    store: RegistryStore, delegate: EndUser, named: pb.Practitioner, names_supervisor: bool, today: date
) -> EndUser:
    if not delegate.supervisions:
        raise _not_registered("the delegate has no supervising prescriber")
    approved = {s.supervisor_id for s in delegate.supervisions if s.approved}
    if names_supervisor:
        supervisor = await find_practitioner(store, named)
        if supervisor is None or all(s.supervisor_id != supervisor.id for s in delegate.supervisions):
            raise _not_registered("the named supervisor is not this delegate's supervising prescriber")
        if supervisor.id not in approved:
            raise _not_registered("the delegate's supervision is awaiting approval")
        _check_usable(supervisor, today, "supervising prescriber")
        return supervisor
    if not approved:
        raise _not_registered("the delegate's supervision is awaiting approval")
    found: Sequence[EndUser | None] = [await store.get_user(i) for i in sorted(approved)]
    usable = [u for u in found if u is not None and u.usable(today)]
    if not usable:
        raise _not_registered("the delegate has no active supervising prescriber")
    if len(usable) > 1:
        raise _invalid("the delegate has several supervising prescribers: the request must name one")
    return usable[0]
