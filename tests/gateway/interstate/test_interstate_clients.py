"""The partner clients over real HTTP against a real partner: another gateway app (state CO, its token service,
registry, partner policy and routes; pmpdb faked at the ``SearchBackend`` seam) where our state (UT) is registered
as a partner and our hub as its OAuth client. Our side is the production ``Interstate`` (``make_interstate``):
SMART ``private_key_jwt`` tokens, FHIR and PMIX, the breaker, each call's time bound."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, unused_port

from gateway.app import create_app
from gateway.auth import scopes
from gateway.auth.client_key import ClientKey
from gateway.budget import Deadline
from gateway.cursor import load_or_create_key
from gateway.interstate.answer import PartnerCallError, PmixStatus
from gateway.interstate.build import make_interstate
from gateway.interstate.credentials import AssertionKey, PartnerTokens
from gateway.interstate.outbound import Interstate
from gateway.interstate.partners import InboundPolicy, Partner, PartnerProtocol
from gateway.policy.registry.store.sqlite import SqliteRegistry
from gateway.testing import FakeSearchBackend, settings_for_tests
from protos.errors import PmpError
from protos.pmp.v1 import pmp_pb2 as pb
from tests.adapters.fhir.fhir_test_data import found
from tests.gateway.interstate.partner_helpers import MemoryDirectory, key_file, make_partner

REQUEST = pb.SearchHistoryRequest(
    patient=pb.PatientQuery(name=pb.HumanName(family="Samuels", given="August"), birth_date="1989-03-12"),
    requester=pb.Requester(
        role=pb.ROLE_PRESCRIBER,
        practitioner=pb.Practitioner(npi="1928340565", name=pb.HumanName(family="Amster", given="Adam")),
    ),
    date_range=pb.DateRange(start="2025-11-23", end="2026-11-23"),
)


@dataclass
class Hub:
    """The partner state CO, with UT registered as its partner."""

    http: TestClient
    base: str
    backend: FakeSearchBackend
    client_id: str
    key: ClientKey
    key_path: Path

    def partner(self, protocol: PartnerProtocol, **changes: Any) -> Partner:
        endpoint = f"{self.base}/fhir" if protocol is PartnerProtocol.FHIR else f"{self.base}/interstate/pmix"
        options: dict[str, Any] = {"endpoint": endpoint, "token_url": f"{self.base}/oauth/token", **changes}
        partner = make_partner("CO", self.key_path, protocol=protocol, **options)
        assert partner.outbound is not None
        outbound = partner.outbound.__class__(**{**_fields(partner.outbound), "client_id": self.client_id})
        return partner.__class__(**{**_fields(partner), "outbound": outbound})


def _fields(value: Any) -> dict[str, Any]:
    return {name: getattr(value, name) for name in value.__slots__}


@pytest.fixture
async def hub(aiohttp_client: Any, tmp_path: Path) -> Hub:
    port = unused_port()
    base = f"http://127.0.0.1:{port}"
    registry = SqliteRegistry(tmp_path / "co" / "gateway.sqlite3")
    (tmp_path / "co").mkdir()
    await registry.open()
    record = await registry.add_partner(
        "UT", name="Utah PMP", inbound=InboundPolicy(frozenset({"208D00000X"}), frozenset({"family"})), by="test"
    )
    key = ClientKey.generate(kid="ut-hub-1")
    client = (await registry.add_client(record.partner.eds_id, scope=scopes.INTERSTATE, jwks=key.jwks())).client
    backend = FakeSearchBackend(found(3))
    settings = settings_for_tests(tmp_path / "co", state_code="CO", interstate=False)
    app = create_app(
        settings, "", cursor_key=load_or_create_key(tmp_path / "co"), issuer=base, backend=backend, registry=registry
    )
    http = await aiohttp_client(app, server_kwargs={"port": port})
    return Hub(http, base, backend, client.client_id, key, key_file(tmp_path, key))


async def ours(tmp_path: Path, partner: Partner) -> Interstate:
    settings = settings_for_tests(tmp_path, state_code="UT", interstate_breaker_failures=2)
    interstate = make_interstate(settings, MemoryDirectory([partner]))
    interstate.clients.open()
    return interstate


@pytest.mark.parametrize("protocol", [PartnerProtocol.FHIR, PartnerProtocol.PMIX])
async def test_a_partner_answers_with_its_dispensations(hub: Hub, tmp_path: Path, protocol: PartnerProtocol) -> None:
    partner = hub.partner(protocol)
    interstate = await ours(tmp_path, partner)
    try:
        answer = await interstate.ask(partner, REQUEST, Deadline.after(5))
        assert (answer.status, answer.detail) == (PmixStatus.COMPLETE, "")
        assert [d.rx_number for d in answer.dispensations] == [d.rx_number for d in found(3).dispensations]
        (asked, _), *_ = hub.backend.calls
        assert asked.requester.state == "UT" and list(asked.states) == ["NONE"]  # the partner never fans out again
        assert asked.patient.name.family == "Samuels" and asked.date_range == REQUEST.date_range
        again = await interstate.ask(partner, REQUEST, Deadline.after(5))  # one token, one connection pool
        assert again.status is PmixStatus.COMPLETE and len(hub.backend.calls) == 2
    finally:
        await interstate.clients.aclose()


@pytest.mark.parametrize("protocol", [PartnerProtocol.FHIR, PartnerProtocol.PMIX])
@pytest.mark.parametrize(
    ("local", "status"),
    [
        (pb.SearchHistoryResponse(match_status=pb.MATCH_STATUS_NOT_FOUND), PmixStatus.NO_DATA),
        (pb.SearchHistoryResponse(match_status=pb.MATCH_STATUS_AMBIGUOUS), PmixStatus.DEFERRED),
    ],
)
async def test_answers_without_data(
    hub: Hub, tmp_path: Path, protocol: PartnerProtocol, local: pb.SearchHistoryResponse, status: PmixStatus
) -> None:
    hub.backend.answer = local
    partner = hub.partner(protocol)
    interstate = await ours(tmp_path, partner)
    try:
        answer = await interstate.ask(partner, REQUEST, Deadline.after(5))
        assert (answer.status, answer.dispensations) == (status, ())
    finally:
        await interstate.clients.aclose()


@pytest.mark.parametrize("protocol", [PartnerProtocol.FHIR, PartnerProtocol.PMIX])
async def test_a_requester_the_partner_refuses_is_disallowed(
    hub: Hub, tmp_path: Path, protocol: PartnerProtocol
) -> None:
    partner = hub.partner(protocol)
    interstate = await ours(tmp_path, partner)
    pharmacist = pb.SearchHistoryRequest()
    pharmacist.CopyFrom(REQUEST)
    pharmacist.requester.role = pb.ROLE_PHARMACIST  # CO answers prescribers (208D00000X) only
    try:
        answer = await interstate.ask(partner, pharmacist, Deadline.after(5))
        assert (answer.status, answer.detail) == (PmixStatus.DISALLOWED, "HTTP 403")
        assert interstate.breaker("CO").state.value == "closed"  # the hub answered: not a failure
    finally:
        await interstate.clients.aclose()


@pytest.mark.parametrize("protocol", [PartnerProtocol.FHIR, PartnerProtocol.PMIX])
async def test_failures_are_named_and_counted_by_the_breaker(
    hub: Hub, tmp_path: Path, protocol: PartnerProtocol, caplog: pytest.LogCaptureFixture
) -> None:
    partner = hub.partner(protocol, timeout=0.3)
    interstate = await ours(tmp_path, partner)
    try:
        hub.backend.answer = PmpError(pb.ERROR_CODE_BACKEND_UNAVAILABLE, "down")
        failed = await interstate.ask(partner, REQUEST, Deadline.after(5))
        # the user is told a generic reason; what failed is named in our log
        assert (failed.status, failed.detail) == (PmixStatus.ERROR, "unavailable")
        failures = [r for r in caplog.records if r.getMessage() == "partner call failed"]
        assert [getattr(r, "detail", None) for r in failures] == ["HTTP 503 (error)"]
        hub.backend.answer, hub.backend.delay = found(1), 5.0
        slow = await interstate.ask(partner, REQUEST, Deadline.after(5))
        assert (slow.status, slow.detail) == (PmixStatus.ERROR, "timed out")
        hub.backend.delay = 0.0
        answer = await interstate.ask(partner, REQUEST, Deadline.after(5))
        assert answer.status is PmixStatus.ERROR and answer.detail.startswith("circuit open")  # 2 failures: open
    finally:
        await interstate.clients.aclose()


async def test_an_unreachable_partner(tmp_path: Path) -> None:
    port = unused_port()
    partner = make_partner(
        "CO", key_file(tmp_path), endpoint=f"http://127.0.0.1:{port}/fhir", token_url=f"http://127.0.0.1:{port}/t"
    )
    interstate = await ours(tmp_path, partner)
    try:
        answer = await interstate.ask(partner, REQUEST, Deadline.after(5))
        assert (answer.status, answer.detail) == (PmixStatus.ERROR, "unavailable")
    finally:
        await interstate.clients.aclose()


async def test_tokens_are_cached_refetched_and_refused_with_the_oauth_error(hub: Hub, tmp_path: Path) -> None:
    outbound = hub.partner(PartnerProtocol.FHIR).outbound
    assert outbound is not None
    now = [0.0]
    async with hub.http.session as session:  # any session: the hub listens on a real port
        tokens = PartnerTokens(session, outbound, AssertionKey.load(hub.key_path), clock=lambda: now[0])
        first, fresh = await tokens.token()
        assert fresh and first
        assert await tokens.token() == (first, False)  # cached
        now[0] += 269
        assert not (await tokens.token())[1]
        now[0] += 1  # SMART tokens live 300 s; renewed 30 s before they expire
        renewed, fresh = await tokens.token()
        assert fresh and renewed != first
        tokens.forget(renewed)
        assert (await tokens.token())[1]
        stranger = PartnerTokens(
            session,
            outbound.__class__(**{**_fields(outbound), "client_id": "cli-unknown"}),
            AssertionKey.load(hub.key_path),
        )
        with pytest.raises(PartnerCallError, match=r"HTTP 40\d \(invalid_client\)"):
            await stranger.token()


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("not json", "cannot be read"),
        (json.dumps({"kty": "RSA", "n": "x", "e": "AQAB"}), "no private JWK"),
        (json.dumps({"kty": "EC", "crv": "P-256", "x": "a", "y": "b", "d": "c"}), "RSA or P-384"),
        (json.dumps({"kty": "RSA", "n": "x", "e": "AQAB", "d": "y"}), "invalid JWK"),
    ],
)
def test_bad_key_files_are_refused_without_quoting_them(tmp_path: Path, content: str, problem: str) -> None:
    path = tmp_path / "key.json"
    path.write_text(content)
    with pytest.raises(PartnerCallError, match=problem) as refused:
        AssertionKey.load(path)
    assert content not in str(refused.value)


def test_both_smart_algorithms_sign(tmp_path: Path) -> None:
    from joserfc.jwk import ECKey

    ec = ECKey.generate_key("P-384", parameters={"kid": "ec-1"})
    (tmp_path / "ec.json").write_text(json.dumps({"key": ec.as_dict(private=True)}))
    assert AssertionKey.load(tmp_path / "ec.json").alg == "ES384"
    assert AssertionKey.load(key_file(tmp_path)).alg == "RS384"
