"""Who is never sent our queries (security review of the outbound fan-out): a partner state suspended here, and
any requester whose role has no provider taxonomy (law enforcement, regulators) — a partner decides by taxonomy,
and such a requester sent without one would pass for a clinician. Both are "not asked", named in the answer."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import orjson
import pytest
from aiohttp import web

from gateway.app import SERVICES
from gateway.auth import scopes
from gateway.auth.client_key import ClientKey
from gateway.interstate.answer import PmixStatus
from gateway.interstate.partners import Outbound, PartnerProtocol
from gateway.interstate.selection import NO_TAXONOMY, SUSPENDED, SUSPENSIONS_UNKNOWN, select
from gateway.policy.suspension.live import SuspensionSet
from gateway.policy.suspension.model import SuspensionKind
from gateway.policy.suspension.store import MemorySuspensionStore
from protos.pmp.v1 import pmp_pb2 as pb
from tests.gateway.interstate.partner_helpers import (
    ASKED_BIRTH_DATE,
    ASKED_NAME,
    OWN_STATE,
    MemoryDirectory,
    key_file,
    make_partner,
)
from tests.gateway.interstate.test_inbound_routes import FHIR, Hub, fhir_body, hub, make_hub  # noqa: F401 (fixtures)

ROLES = ("ROLE_PRESCRIBER", "ROLE_LAW_ENFORCEMENT", "ROLE_REGULATOR")


def search(role: pb.Role.ValueType, *states: str) -> pb.SearchHistoryRequest:
    return pb.SearchHistoryRequest(
        patient=pb.PatientQuery(name=ASKED_NAME, birth_date=ASKED_BIRTH_DATE),
        requester=pb.Requester(role=role, practitioner=pb.Practitioner(npi="1234567893")),
        states=states,
    )


@pytest.fixture
def directory(tmp_path: Path) -> MemoryDirectory:
    key = key_file(tmp_path)
    return MemoryDirectory(make_partner(s, key, roles=ROLES) for s in ("CO", "NM"))


@pytest.fixture
async def suspensions() -> AsyncIterator[SuspensionSet]:
    live = SuspensionSet(MemorySuspensionStore(), check_seconds=3600)
    await live.start()
    yield live
    await live.aclose()


@pytest.mark.parametrize("role", [pb.ROLE_LAW_ENFORCEMENT, pb.ROLE_REGULATOR])
def test_a_requester_without_a_taxonomy_is_never_fanned_out(
    directory: MemoryDirectory, role: pb.Role.ValueType
) -> None:
    assert not select(search(role), directory, own_state=OWN_STATE)  # even where a partner lists the role
    named = select(search(role, "CO", "NM", "UT"), directory, own_state=OWN_STATE)
    assert not named.partners
    assert [(a.state, a.status, a.detail) for a in named.not_asked] == [
        ("CO", PmixStatus.DISALLOWED, NO_TAXONOMY),
        ("NM", PmixStatus.DISALLOWED, NO_TAXONOMY),
    ]


async def test_a_suspended_state_is_not_asked(directory: MemoryDirectory, suspensions: SuspensionSet) -> None:
    await suspensions.suspend(SuspensionKind.STATE, "NM", reason="MOU lapsed", by="division")
    for asked in (search(pb.ROLE_PRESCRIBER), search(pb.ROLE_PRESCRIBER, "NM", "CO")):  # by default, and named
        selection = select(asked, directory, own_state=OWN_STATE, suspensions=suspensions)
        assert [p.state for p in selection.partners] == ["CO"]
        assert [(a.state, a.status, a.detail) for a in selection.not_asked] == [("NM", PmixStatus.ERROR, SUSPENDED)]


async def test_an_unconfirmed_suspension_list_asks_nobody(directory: MemoryDirectory) -> None:
    unconfirmed = SuspensionSet(MemorySuspensionStore(), check_seconds=3600)  # never started: fail closed
    selection = select(search(pb.ROLE_PRESCRIBER), directory, own_state=OWN_STATE, suspensions=unconfirmed)
    assert not selection.partners
    assert {(a.state, a.detail) for a in selection.not_asked} == {
        ("CO", SUSPENSIONS_UNKNOWN),
        ("NM", SUSPENSIONS_UNKNOWN),
    }


async def test_the_gateway_sends_a_suspended_state_no_query(hub: Hub, tmp_path: Path) -> None:  # noqa: F811
    """``pmp-gateway suspend state NV`` in the running gateway: our users' queries no longer go to NV."""
    seen: list[bytes] = []

    async def token(_: web.Request) -> web.Response:
        return web.json_response({"access_token": "t", "token_type": "Bearer", "expires_in": 300})

    async def history(request: web.Request) -> web.Response:
        seen.append(await request.read())
        return web.json_response({"resourceType": "Parameters"}, content_type="application/fhir+json")

    nv = web.Application()
    nv.router.add_post("/oauth/token", token)
    nv.router.add_post("/fhir/Patient/$pdmp-history", history)
    runner = web.AppRunner(nv)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        key = tmp_path / "our-key.json"
        key.write_text(json.dumps(ClientKey.generate().private_jwk()))
        outbound = Outbound(
            endpoint=f"http://127.0.0.1:{port}/fhir",
            protocol=PartnerProtocol.FHIR,
            token_url=f"http://127.0.0.1:{port}/oauth/token",
            client_id="ut-at-nv",
            key_file=key,
            scope="pmp/interstate",
            timeout_seconds=2.0,
            enabled=True,
        )
        await hub.registry.update_partner(
            "NV", lambda p: replace(p, outbound=outbound, default_for_roles=frozenset({"ROLE_PRESCRIBER"})), by="t"
        )
        await hub.app[SERVICES].suspensions.suspend(SuspensionKind.STATE, "NV", reason="MOU lapsed", by="division")
        ehr = await hub.token(scopes.MEDICATION_DISPENSE_READ, client_id=hub.ehr.client_id, key=hub.ehr.key)
        response = await hub.http.post(
            "/fhir/Patient/$pdmp-history", data=fhir_body(), headers={**FHIR, "Authorization": f"Bearer {ehr}"}
        )
        body = orjson.loads(await response.read())
        assert response.status == 200 and not seen
        (outcome,) = (p["resource"] for p in body["parameter"] if p["name"] == "outcome")
        assert any("the NV PMP did not answer (not asked: suspended)" in i["diagnostics"] for i in outcome["issue"])
    finally:
        await runner.cleanup()
