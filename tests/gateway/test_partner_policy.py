"""The partner_policy stage and identify's treatment of partner hubs, against a real SQLite registry: a partner's
requester is held to that partner's inbound policy (taxonomy or role, required patient fields, status, routes,
scope), gets the partner's state whatever the message claims, and is never fanned out again; any other caller
loses a requesting state it is not entitled to and cannot use the interstate surface or scope."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import pytest

from gateway.auth import scopes
from gateway.budget import Deadline
from gateway.interstate.directory import RegistryPartnerDirectory
from gateway.interstate.partners import InboundPolicy, PartnerStatus
from gateway.pipeline.context import RequestContext
from gateway.pipeline.identify import Identify
from gateway.pipeline.partner_policy import (
    PartnerPolicy,
    hold_to_policy,
    missing_fields,
    requester_allowed,
    requester_refusal,
    roles_of,
)
from gateway.policy.registry.store.sqlite import SqliteRegistry
from gateway.testing import register_client
from protos.errors import PmpError
from protos.pmp.v1 import pmp_pb2 as pb
from tests.gateway.registry.keys import jwks

POLICY = InboundPolicy(frozenset({"207R00000X", "1835P1200X"}), frozenset({"family", "birth_date", "postal_code"}))
NPI = "1928340565"


@dataclass
class World:
    registry: SqliteRegistry
    stage: PartnerPolicy
    partner_client: str
    partner_eds: str
    ehr_client: str
    ehr_eds: str

    def ctx(
        self,
        protocol: str = "pmix",
        operation: str = "pmp-request",
        *,
        client: str = "partner",
        scope: frozenset[str] | None = None,
        taxonomy: str = "207R00000X",
        role: pb.Role.ValueType = pb.ROLE_PRESCRIBER,
        state: str = "NV",
        patient: pb.PatientQuery | None = None,
    ) -> RequestContext:
        search = pb.SearchHistoryRequest(
            patient=patient
            or pb.PatientQuery(
                name=pb.HumanName(family="Doe", given="Jane"),
                birth_date="1970-01-01",
                address=pb.Address(postal_code="89501"),
            ),
            requester=pb.Requester(role=role, practitioner=pb.Practitioner(npi=NPI), user_id="usr_claimed"),
            states=["AZ", "CA"],
        )
        ctx = RequestContext("rid", protocol, operation, Deadline.after(5), search, requester_taxonomy=taxonomy)
        if protocol == "pmix":  # the PMIX route hands the message's claim over beside the search
            ctx.requesting_state = state
        else:  # a decoder that put a state in the requester
            search.requester.state = state
        if client == "partner":
            ctx.client_id, ctx.eds_id = self.partner_client, self.partner_eds
            ctx.scopes = frozenset({scopes.INTERSTATE}) if scope is None else scope
        elif client == "ehr":
            ctx.client_id, ctx.eds_id = self.ehr_client, self.ehr_eds
            ctx.scopes = frozenset({scopes.MEDICATION_DISPENSE_READ, scopes.NCPDP_HISTORY}) if scope is None else scope
        return ctx


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    registry = SqliteRegistry(tmp_path / "gateway.sqlite3")
    await registry.open()
    partner = (await registry.add_partner("NV", name="Nevada PMP", inbound=POLICY, by="test")).partner
    client = (await registry.add_client(partner.eds_id, scope=scopes.INTERSTATE, jwks=jwks())).client
    ehr = await register_client(registry, npi=NPI)
    stage = PartnerPolicy(registry, RegistryPartnerDirectory(registry))
    try:
        yield World(registry, stage, client.client_id, partner.eds_id, ehr.client_id, ehr.eds_id)
    finally:
        await registry.close()


async def _refused(world: World, ctx: RequestContext) -> PmpError:
    with pytest.raises(PmpError) as refused:
        await world.stage(ctx)
    return refused.value


# ---- a partner's requests


async def test_a_pmix_request_by_an_allowed_taxonomy_is_the_partners(world: World) -> None:
    ctx = world.ctx(state="nv")
    await world.stage(ctx)
    requester = ctx.search.requester
    assert (requester.state, requester.user_id) == ("NV", "")  # not one of our users
    assert list(ctx.search.states) == ["NONE"]  # loop protection, whatever the message asked
    assert ctx.notes["partner_policy"] == "partner NV"


async def test_a_fhir_request_is_judged_by_its_code_and_role(world: World) -> None:
    await world.stage(world.ctx("fhir", "pdmp-history"))  # a prescriber with 207R00000X
    pharmacist = world.ctx("fhir", "pdmp-history", taxonomy="1835P1200X", role=pb.ROLE_PHARMACIST, state="")
    await world.stage(pharmacist)
    assert pharmacist.search.requester.state == "NV"
    for role in (pb.ROLE_UNSPECIFIED, pb.ROLE_LICENSED_DELEGATE, pb.ROLE_LAW_ENFORCEMENT, pb.ROLE_PHARMACIST):
        error = await _refused(world, world.ctx("fhir", "pdmp-history", role=role))
        assert error.code == pb.ERROR_CODE_FORBIDDEN


@pytest.mark.parametrize("protocol", ["pmix", "fhir"])
async def test_a_partner_requester_without_a_taxonomy_code_is_disallowed(world: World, protocol: str) -> None:
    """A role alone ("Dentist" with no code, a FHIR role without a NUCC coding) cannot be held to the policy."""
    operation = "pmp-request" if protocol == "pmix" else "pdmp-history"
    ctx = world.ctx(protocol, operation, taxonomy=" ")
    error = await _refused(world, ctx)
    assert error.code == pb.ERROR_CODE_FORBIDDEN and "taxonomy code" in error.detail and "none" in error.detail
    assert ctx.search.requester.state == "NV"  # audited under the partner


@pytest.mark.parametrize(
    ("taxonomy", "role"),
    [
        ("1835P1200X", pb.ROLE_PRESCRIBER),  # a pharmacist's code asking as a prescriber
        ("207R00000X", pb.ROLE_PHARMACIST),  # a physician's code asking as a pharmacist
    ],
)
async def test_a_role_its_code_contradicts_is_disallowed(world: World, taxonomy: str, role: pb.Role.ValueType) -> None:
    for protocol, operation in (("pmix", "pmp-request"), ("fhir", "pdmp-history")):
        error = await _refused(world, world.ctx(protocol, operation, taxonomy=taxonomy, role=role))
        assert error.code == pb.ERROR_CODE_FORBIDDEN
        assert error.detail == f"the requester's stated role does not match its taxonomy code {taxonomy}"


async def test_an_unlisted_fhir_specialty_is_disallowed(world: World) -> None:
    for code in ("1223G0001X", "207Q00000X"):  # a dentist and a family physician: prescribers, neither listed
        error = await _refused(world, world.ctx("fhir", "pdmp-history", taxonomy=code))
        assert error.code == pb.ERROR_CODE_FORBIDDEN and f"{code} is not allowed" in error.detail


async def test_a_taxonomy_not_allowed_is_disallowed_and_audited_with_the_state(world: World) -> None:
    ctx = world.ctx(taxonomy="363LF0000X")  # a nurse practitioner: a prescriber, but not a code NV may use
    error = await _refused(world, ctx)
    assert error.code == pb.ERROR_CODE_FORBIDDEN and "requester role" in error.detail
    assert ctx.search.requester.state == "NV" and list(ctx.search.states) == ["NONE"]


async def test_a_message_claiming_another_state_is_refused(world: World) -> None:
    ctx = world.ctx(state="AZ")
    error = await _refused(world, ctx)
    assert error.code == pb.ERROR_CODE_FORBIDDEN and "requesting state" in error.detail
    assert ctx.search.requester.state == "NV"  # the audit names the partner that really asked


async def test_missing_required_fields_are_named_without_values(world: World) -> None:
    ctx = world.ctx(patient=pb.PatientQuery(name=pb.HumanName(family="Doe"), address=pb.Address(line1="1 Main St")))
    error = await _refused(world, ctx)
    assert error.code == pb.ERROR_CODE_INVALID_REQUEST
    assert error.detail == "requests from that state must give the patient's birth_date, postal_code"


async def test_a_malformed_requester_identifier_is_invalid(world: World) -> None:
    ctx = world.ctx()
    ctx.search.requester.practitioner.npi = "1928340566"  # the check digit is wrong
    error = await _refused(world, ctx)
    assert error.code == pb.ERROR_CODE_INVALID_REQUEST and "NPI" in error.detail and "1928340566" not in error.detail


async def test_a_disabled_partner_is_refused_at_once(world: World) -> None:
    await world.stage(world.ctx())
    other = SqliteRegistry(world.registry.path)  # the CLI, in another process
    await other.open()
    await other.set_partner_status("NV", PartnerStatus.DISABLED, by="division")
    await other.close()
    ctx = world.ctx()
    error = await _refused(world, ctx)
    assert error.code == pb.ERROR_CODE_NOT_REGISTERED and "disabled" in error.detail
    assert ctx.search.requester.state == "NV"


@pytest.mark.parametrize(
    ("protocol", "operation"), [("ncpdp", "rx-history"), ("fhir", "dispense-search"), ("admin", "x")]
)
async def test_a_partner_hub_uses_pmix_and_fhir_history_only(world: World, protocol: str, operation: str) -> None:
    error = await _refused(world, world.ctx(protocol, operation))
    assert error.code == pb.ERROR_CODE_FORBIDDEN


async def test_a_partner_needs_the_interstate_scope(world: World) -> None:
    error = await _refused(world, world.ctx("fhir", "pdmp-history", scope=frozenset({scopes.MEDICATION_DISPENSE_READ})))
    assert error.code == pb.ERROR_CODE_INSUFFICIENT_SCOPE


async def test_a_partner_hub_without_a_partner_is_not_registered() -> None:
    ctx = RequestContext("rid", "pmix", "pmp-request", Deadline.after(5), pb.SearchHistoryRequest())
    ctx.search.requester.state = "NV"
    with pytest.raises(PmpError) as refused:
        hold_to_policy(ctx, None)
    assert refused.value.code == pb.ERROR_CODE_NOT_REGISTERED
    assert ctx.search.requester.state == "" and list(ctx.search.states) == ["NONE"]


# ---- everyone else


async def test_an_ehr_keeps_its_states_but_never_a_requesting_state(world: World) -> None:
    ctx = world.ctx("fhir", "pdmp-history", client="ehr")
    await world.stage(ctx)
    assert ctx.search.requester.state == "" and list(ctx.search.states) == ["AZ", "CA"]
    assert ctx.search.requester.user_id == "usr_claimed"  # identify decides about in-state users


async def test_an_ehr_token_cannot_reach_the_interstate_surface(world: World) -> None:
    error = await _refused(world, world.ctx(client="ehr"))
    assert error.code == pb.ERROR_CODE_FORBIDDEN and "partner states' hubs" in error.detail
    interstate_only = world.ctx("fhir", "pdmp-history", client="ehr", scope=frozenset({scopes.INTERSTATE}))
    error = await _refused(world, interstate_only)
    assert error.code == pb.ERROR_CODE_FORBIDDEN and scopes.INTERSTATE in error.detail
    both = world.ctx(
        "fhir", "pdmp-history", client="ehr", scope=frozenset({scopes.INTERSTATE, scopes.ALL_RESOURCES_READ})
    )
    both.scopes |= {scopes.MEDICATION_DISPENSE_READ}  # as authenticate sets it: the route scopes covered
    await world.stage(both)


async def test_without_authentication_nobody_is_a_partner(world: World) -> None:
    pmix = world.ctx(client="nobody", state="AZ")
    await world.stage(pmix)
    assert pmix.search.requester.state == "AZ" and list(pmix.search.states) == ["NONE"]  # as claimed; no fan-out
    fhir = world.ctx("fhir", "pdmp-history", client="nobody")
    await world.stage(fhir)
    assert fhir.search.requester.state == "" and list(fhir.search.states) == ["AZ", "CA"]


async def test_an_unreachable_registry_refuses_with_retry(world: World) -> None:
    await world.registry.close()
    error = await _refused(world, world.ctx())
    assert error.code == pb.ERROR_CODE_BACKEND_UNAVAILABLE and error.retry_after == 1.0


# ---- identify and partner hubs


async def test_identify_does_not_look_a_partners_requester_up(world: World) -> None:
    identify = Identify(world.registry, today=lambda: date(2026, 1, 1))
    ctx = world.ctx()
    ctx.search.requester.practitioner.npi = "1665015602"  # nobody we registered
    await identify(ctx)
    assert ctx.notes["eds"] == world.partner_eds and "partner" in ctx.notes["identify"]
    await world.registry.disable_client(world.partner_client)
    with pytest.raises(PmpError) as refused:
        await identify(world.ctx())
    assert refused.value.code == pb.ERROR_CODE_NOT_REGISTERED  # the hub's client is checked like any other


# ---- the rules


def test_roles_of_taxonomy_codes() -> None:
    assert roles_of({"207R00000X", "1835P1200X", "163W00000X", "183700000X", "111N00000X"}) == {
        pb.ROLE_PRESCRIBER,
        pb.ROLE_PHARMACIST,
        pb.ROLE_LICENSED_DELEGATE,
        pb.ROLE_UNLICENSED_DELEGATE,
    }  # 111N (chiropractor) denotes no role the gateway knows


def test_requester_allowed_and_missing_fields() -> None:
    assert requester_allowed(POLICY, " 207r00000x ", pb.ROLE_PRESCRIBER)
    assert not requester_allowed(POLICY, "", pb.ROLE_PRESCRIBER)  # a code is required
    assert not requester_allowed(POLICY, "208D00000X", pb.ROLE_PRESCRIBER)  # and must be listed
    assert not requester_allowed(POLICY, "1835P1200X", pb.ROLE_PRESCRIBER)  # and the role must fit its profession
    assert not requester_allowed(POLICY, "207R00000X", pb.ROLE_LICENSED_DELEGATE)  # a role no listed code denotes
    assert not requester_allowed(POLICY, "207R00000X", pb.ROLE_UNSPECIFIED)  # authorize would make it a prescriber
    assert not requester_allowed(POLICY, "207R00000X", pb.ROLE_LAW_ENFORCEMENT)  # the role must be one listed too
    assert not requester_allowed(replace(POLICY, allowed_taxonomies=frozenset()), "", pb.ROLE_PRESCRIBER)
    full = pb.PatientQuery(
        name=pb.HumanName(family="Doe", given="J"),
        birth_date="1970-01-01",
        gender=pb.GENDER_UNKNOWN,
        address=pb.Address(line1="1 Main", postal_code="89501"),
    )
    every = InboundPolicy(frozenset(), frozenset({"family", "given", "birth_date", "gender", "postal_code", "address"}))
    assert missing_fields(every, full) == []
    assert missing_fields(every, pb.PatientQuery()) == [
        "address",
        "birth_date",
        "family",
        "gender",
        "given",
        "postal_code",
    ]


def test_the_requester_refusal_names_the_code_only() -> None:
    listed = InboundPolicy(frozenset({"207R00000X", "111N00000X", "183700000X"}), frozenset())
    assert requester_refusal(listed, "207R00000X", pb.ROLE_PRESCRIBER) == ""
    assert "111N00000X" in requester_refusal(listed, "111N00000X", pb.ROLE_PRESCRIBER)  # no known profession
    assert "183700000X" in requester_refusal(listed, "183700000X", pb.ROLE_PRESCRIBER)  # a technician
    assert requester_refusal(listed, "183700000X", pb.ROLE_UNLICENSED_DELEGATE) == ""
    hostile = requester_refusal(listed, "<script>Jane Doe 1970", pb.ROLE_PRESCRIBER)
    assert "(malformed)" in hostile and "JANE" not in hostile.upper() and "<" not in hostile
