"""The identify rules against a real registry (both backends): who is refused, why, and what the registry
replaces in the request; then the identify stage in front of authorize."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import pytest

from gateway.budget import Deadline
from gateway.pipeline.authorize import Authorize
from gateway.pipeline.context import RequestContext
from gateway.pipeline.identify import Identify
from gateway.policy.registry import (
    ApprovalSide,
    EdsStatus,
    EndUser,
    NewUser,
    RegistryStore,
    ResolvedUser,
    UserRole,
    UserStatus,
    resolve_end_user,
)
from protos.errors import PmpError
from protos.pmp.v1 import pmp_pb2 as pb
from tests.gateway.registry.conftest import make_dea, make_npi

TODAY = date.today()


@dataclass
class World:
    registry: RegistryStore
    eds: str
    other_eds: str
    client: str
    doctor: EndUser
    doctor2: EndUser
    nurse: EndUser  # delegate of doctor, approved
    tech: EndUser  # delegate of doctor, only the supervisor approved
    orphan: EndUser  # delegate with no supervisor
    cop: EndUser
    regulator: EndUser
    elsewhere: EndUser  # linked to the other EDS only
    expiring: EndUser

    async def resolve(self, requester: pb.Requester, *, today: date = TODAY, eds: str = "") -> ResolvedUser:
        return await resolve_end_user(self.registry, eds_id=eds or self.eds, requester=requester, today=today)


def _user(role: UserRole, eds: str, **kw: object) -> NewUser:
    fields: dict[str, object] = {"role": role, "first_name": "F", "last_name": "L", "eds_ids": (eds,)}
    if role not in (UserRole.LAW_ENFORCEMENT, UserRole.REGULATOR):
        fields["npi"] = make_npi()
    fields.update(kw)
    return NewUser(**fields)  # type: ignore[arg-type]


@pytest.fixture
async def world(registry: RegistryStore) -> World:
    eds = (await registry.add_eds(name="Valley EHR", state="UT")).id
    other = (await registry.add_eds(name="Hill HIE")).id
    client = (await registry.add_client(eds, scope="system/MedicationDispense.rs", with_secret=True)).client
    add = registry.add_user
    doctor = await add(_user(UserRole.PRESCRIBER, eds, dea=make_dea("L"), state_license="D-1", license_state="UT"))
    doctor2 = await add(_user(UserRole.PRESCRIBER, eds))
    nurse = await add(_user(UserRole.LICENSED_DELEGATE, eds, supervisor_ids=(doctor.id,)))
    await registry.approve(nurse.id, ApprovalSide.SUPERVISOR, by=doctor.id)
    nurse = await registry.approve(nurse.id, ApprovalSide.DIVISION, by="clerk")
    tech = await add(_user(UserRole.UNLICENSED_DELEGATE, eds, supervisor_ids=(doctor.npi,)))
    tech = await registry.approve(tech.id, ApprovalSide.SUPERVISOR, by=doctor.id)
    orphan = await add(_user(UserRole.UNLICENSED_DELEGATE, eds))
    cop = await add(_user(UserRole.LAW_ENFORCEMENT, eds, state_license="B-123", license_state="UT"))
    regulator = await add(_user(UserRole.REGULATOR, eds, state_license="R-9", license_state="UT"))
    elsewhere = await add(_user(UserRole.PRESCRIBER, other))
    expiring = await add(_user(UserRole.PHARMACIST, eds, expires=TODAY + timedelta(days=10)))
    return World(
        registry,
        eds,
        other,
        client.client_id,
        doctor,
        doctor2,
        nurse,
        tech,
        orphan,
        cop,
        regulator,
        elsewhere,
        expiring,
    )


def by_npi(user: EndUser) -> pb.Practitioner:
    return pb.Practitioner(npi=user.npi)


# ---- accepted: the registry's word replaces the message's


async def test_prescriber_by_npi_takes_the_registry_role(world: World) -> None:
    requester = pb.Requester(role=pb.ROLE_PHARMACIST, practitioner=by_npi(world.doctor))
    resolved = await world.resolve(requester)
    assert resolved.user.id == world.doctor.id and resolved.supervisor is None
    resolved.apply_to(requester)
    assert requester.role == pb.ROLE_PRESCRIBER and requester.user_id == world.doctor.id
    assert not requester.HasField("on_behalf_of")


@pytest.mark.parametrize(
    "practitioner",
    [
        lambda d: pb.Practitioner(dea=d.dea.lower()),
        lambda d: pb.Practitioner(state_license="d-1", license_state="UT"),
        lambda d: pb.Practitioner(state_license="D-1", license_state="Utah Division of Professional Licensing"),
        lambda d: pb.Practitioner(npi=d.npi, dea=make_dea()),
    ],
)
async def test_prescriber_by_other_identifiers(world: World, practitioner) -> None:  # type: ignore[no-untyped-def]
    resolved = await world.resolve(pb.Requester(practitioner=practitioner(world.doctor)))
    assert resolved.user.id == world.doctor.id


async def test_delegate_gets_the_registry_supervisor(world: World) -> None:
    requester = pb.Requester(role=pb.ROLE_UNLICENSED_DELEGATE, practitioner=by_npi(world.nurse))
    resolved = await world.resolve(requester)
    resolved.apply_to(requester)
    assert requester.role == pb.ROLE_LICENSED_DELEGATE and requester.user_id == world.nurse.id
    assert requester.on_behalf_of.npi == world.doctor.npi and requester.on_behalf_of.dea == world.doctor.dea


async def test_delegate_naming_their_supervisor(world: World) -> None:
    """FHIR: the delegate-practitioner is the end user, the authorized-practitioner their supervisor."""
    requester = pb.Requester(practitioner=by_npi(world.nurse), on_behalf_of=pb.Practitioner(dea=world.doctor.dea))
    resolved = await world.resolve(requester)
    assert resolved.supervisor is not None and resolved.supervisor.id == world.doctor.id


# ---- refused


async def refused(world: World, requester: pb.Requester, code: int, match: str, **kw: object) -> PmpError:
    with pytest.raises(PmpError, match=match) as error:
        await world.resolve(requester, **kw)  # type: ignore[arg-type]
    assert error.value.code == code, error.value
    text = error.value.detail
    for p in (requester.practitioner, requester.on_behalf_of):
        for value in (p.npi, p.dea, p.state_license):
            assert not value or value not in text  # never echoed
    return error.value


NOT_REGISTERED = pb.ERROR_CODE_NOT_REGISTERED


async def test_unknown_user(world: World) -> None:
    await refused(world, pb.Requester(practitioner=pb.Practitioner(npi=make_npi())), NOT_REGISTERED, "not registered")


@pytest.mark.parametrize(
    ("status", "code", "match"),
    [
        (UserStatus.PENDING, NOT_REGISTERED, "end user's registration is not active"),
        (UserStatus.REVOKED, NOT_REGISTERED, "end user's registration is not active"),
        (UserStatus.SUSPENDED, pb.ERROR_CODE_SUSPENDED, "end user is suspended"),
    ],
)
async def test_inactive_user(world: World, status: UserStatus, code: int, match: str) -> None:
    await world.registry.set_user_status(world.doctor.id, status)
    await refused(world, pb.Requester(practitioner=by_npi(world.doctor)), code, match)


async def test_expired_user(world: World) -> None:
    requester = pb.Requester(practitioner=by_npi(world.expiring))
    assert (await world.resolve(requester, today=TODAY + timedelta(days=10))).user.id == world.expiring.id
    await refused(world, requester, NOT_REGISTERED, "expired", today=TODAY + timedelta(days=11))


async def test_user_not_linked_to_this_eds(world: World) -> None:
    requester = pb.Requester(practitioner=by_npi(world.elsewhere))
    await refused(world, requester, NOT_REGISTERED, "not registered with this EDS")
    assert (await world.resolve(requester, eds=world.other_eds)).user.id == world.elsewhere.id


async def test_delegate_without_supervisor(world: World) -> None:
    await refused(world, pb.Requester(practitioner=by_npi(world.orphan)), NOT_REGISTERED, "no supervising")


async def test_delegate_with_pending_approval(world: World) -> None:
    await refused(world, pb.Requester(practitioner=by_npi(world.tech)), NOT_REGISTERED, "awaiting approval")
    named = pb.Requester(practitioner=by_npi(world.tech), on_behalf_of=by_npi(world.doctor))
    await refused(world, named, NOT_REGISTERED, "awaiting approval")
    await world.registry.approve(world.tech.id, ApprovalSide.DIVISION, by="clerk")
    assert (await world.resolve(named)).supervisor.id == world.doctor.id  # type: ignore[union-attr]


async def test_named_supervisor_not_theirs(world: World) -> None:
    for other in (by_npi(world.doctor2), pb.Practitioner(npi=make_npi())):
        requester = pb.Requester(practitioner=by_npi(world.nurse), on_behalf_of=other)
        await refused(world, requester, NOT_REGISTERED, "not this delegate's supervising prescriber")


async def test_inactive_supervisor(world: World) -> None:
    await world.registry.set_user_status(world.doctor.id, UserStatus.REVOKED)
    await refused(world, pb.Requester(practitioner=by_npi(world.nurse)), NOT_REGISTERED, "no active supervising")
    named = pb.Requester(practitioner=by_npi(world.nurse), on_behalf_of=by_npi(world.doctor))
    await refused(world, named, NOT_REGISTERED, "supervising prescriber's registration is not active")


async def test_non_delegate_acting_for_someone(world: World) -> None:
    requester = pb.Requester(practitioner=by_npi(world.doctor2), on_behalf_of=by_npi(world.doctor))
    await refused(world, requester, NOT_REGISTERED, "not registered as a delegate")


async def test_several_approved_supervisors_need_naming(world: World) -> None:
    await world.registry.add_supervision(world.nurse.id, world.doctor2.id)
    for side in ApprovalSide:
        await world.registry.approve(world.nurse.id, side, by="x", supervisor_id=world.doctor2.id)
    await refused(world, pb.Requester(practitioner=by_npi(world.nurse)), pb.ERROR_CODE_INVALID_REQUEST, "name one")
    named = pb.Requester(practitioner=by_npi(world.nurse), on_behalf_of=by_npi(world.doctor2))
    assert (await world.resolve(named)).supervisor.id == world.doctor2.id  # type: ignore[union-attr]


async def test_npi_that_does_not_match_the_registration(world: World) -> None:
    requester = pb.Requester(practitioner=pb.Practitioner(npi=make_npi(), dea=world.doctor.dea))
    await refused(world, requester, NOT_REGISTERED, "NPI does not match")


@pytest.mark.parametrize(
    ("practitioner", "on_behalf_of", "match"),
    [
        (pb.Practitioner(npi="1234567890"), pb.Practitioner(), "end user's NPI"),
        (pb.Practitioner(npi="12345"), pb.Practitioner(), "end user's NPI"),
        (pb.Practitioner(dea="AB1234564"), pb.Practitioner(), "end user's DEA"),
        (pb.Practitioner(state_license="x"), pb.Practitioner(), "licence number is malformed"),
        (pb.Practitioner(npi="1234567893"), pb.Practitioner(dea="ZZ1234563"), "supervisor's DEA"),
        (pb.Practitioner(), pb.Practitioner(), "does not identify"),
    ],
)
async def test_formats_are_checked_before_any_lookup(
    world: World, practitioner: pb.Practitioner, on_behalf_of: pb.Practitioner, match: str
) -> None:
    await world.registry.close()  # any lookup would now fail as BACKEND_UNAVAILABLE
    requester = pb.Requester(practitioner=practitioner, on_behalf_of=on_behalf_of)
    await refused(world, requester, pb.ERROR_CODE_INVALID_REQUEST, match)


async def test_unavailable_registry(world: World) -> None:
    await world.registry.close()
    error = await refused(
        world, pb.Requester(practitioner=by_npi(world.doctor)), pb.ERROR_CODE_BACKEND_UNAVAILABLE, "unavailable"
    )
    assert error.retry_after


async def test_licence_of_two_states_without_a_state(world: World) -> None:
    await world.registry.add_user(_user(UserRole.PRESCRIBER, world.eds, state_license="D-1", license_state="ID"))
    await refused(world, pb.Requester(practitioner=pb.Practitioner(state_license="D-1")), NOT_REGISTERED, "its state")


# ---- the identify stage, then authorize


def ctx_for(requester: pb.Requester, client_id: str) -> RequestContext:
    search = pb.SearchHistoryRequest(patient=pb.PatientQuery(birth_date="1980-01-01"), requester=requester)
    ctx = RequestContext("rid", "fhir", "pdmp-history", Deadline.after(5), search)
    ctx.client_id = client_id
    return ctx


async def test_identify_stage_then_authorize(world: World) -> None:
    ctx = ctx_for(pb.Requester(role=pb.ROLE_PRESCRIBER, practitioner=by_npi(world.nurse)), world.client)
    await Identify(world.registry, lambda: TODAY)(ctx)
    await Authorize()(ctx)
    requester = ctx.search.requester
    assert requester.role == pb.ROLE_LICENSED_DELEGATE and requester.purpose == pb.PURPOSE_TREATMENT
    assert ctx.notes["identify"] == f"{world.nurse.id} for {world.doctor.id}" and ctx.notes["eds"] == world.eds


@pytest.mark.parametrize(
    ("who", "case_number", "match"),
    [("cop", "", "case number"), ("regulator", "", "investigation reference"), ("cop", "2026-0042", None)],
)
async def test_law_enforcement_and_regulators_need_a_reference(
    world: World, who: str, case_number: str, match: str | None
) -> None:
    user: EndUser = getattr(world, who)
    # The message claims a prescriber; the registry's role decides, and with it what authorize demands.
    requester = pb.Requester(
        role=pb.ROLE_PRESCRIBER,
        practitioner=pb.Practitioner(state_license=user.state_license, license_state="UT"),
        case_number=case_number,
    )
    ctx = ctx_for(requester, world.client)
    await Identify(world.registry)(ctx)
    if match is None:
        await Authorize()(ctx)
        assert ctx.search.requester.purpose == pb.PURPOSE_INVESTIGATION
        return
    with pytest.raises(PmpError, match=match) as error:
        await Authorize()(ctx)
    assert error.value.code == pb.ERROR_CODE_FORBIDDEN


async def test_identify_refuses_clients_and_eds_not_active(world: World) -> None:
    requester = pb.Requester(practitioner=by_npi(world.doctor))
    stage = Identify(world.registry)
    with pytest.raises(PmpError) as error:
        await stage(ctx_for(requester, ""))
    assert error.value.code == pb.ERROR_CODE_UNAUTHENTICATED
    with pytest.raises(PmpError, match="OAuth client") as error:
        await stage(ctx_for(requester, "cli_unknown"))
    await world.registry.set_eds_status(world.eds, EdsStatus.SUSPENDED)
    with pytest.raises(PmpError, match="EDS is suspended") as error:
        await stage(ctx_for(requester, world.client))
    assert error.value.code == pb.ERROR_CODE_SUSPENDED
    await world.registry.set_eds_status(world.eds, EdsStatus.REVOKED)
    with pytest.raises(PmpError, match="EDS is not active") as error:
        await stage(ctx_for(requester, world.client))
    await world.registry.set_eds_status(world.eds, EdsStatus.ACTIVE)
    await world.registry.disable_client(world.client)
    with pytest.raises(PmpError, match="OAuth client") as error:
        await stage(ctx_for(requester, world.client))
    assert error.value.code == NOT_REGISTERED
