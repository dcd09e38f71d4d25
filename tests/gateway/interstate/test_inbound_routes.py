"""``POST /interstate/pmix`` and the partner hubs' FHIR ``$pdmp-history`` over a real aiohttp server with the whole
pipeline on: a real token service, a SQLite registry with a partner state (NV) and an in-state EHR, the audit trail,
a fake pmpdb. Every PMIX reply is validated against the project's PMIX schema, every FHIR reply with fhir.resources;
every refusal is checked in the route's protocol, with its HTTP status and headers, and in the audit trail."""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient, unused_port
from lxml import etree

from adapters import ncpdp, pmix
from gateway.app import SERVICES, create_app
from gateway.audit import AUDIT
from gateway.audit.record import AuditRecord
from gateway.auth import scopes
from gateway.cursor import load_or_create_key
from gateway.interstate.partners import InboundPolicy, PartnerStatus
from gateway.policy.registry.store.sqlite import SqliteRegistry
from gateway.policy.suspension import SuspensionKind
from gateway.testing import ClientKey, FakeSearchBackend, Registration, register_client, settings_for_tests, token_form
from protos.errors import PmpError
from protos.pmp.v1 import pmp_pb2 as pb
from tests.adapters.fhir.fhir_test_data import EX1, example, found, valid_outcome, valid_parameters

X = "{" + pmix.DEFAULT_EXCHANGE_NS + "}"
XML = {"Content-Type": "application/xml"}
FHIR = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}
NPI = "1928340565"  # the requester; registered nowhere here (an out-of-state prescriber) but for the EHR's user
POLICY = InboundPolicy(frozenset({"207R00000X", "183500000X"}), frozenset({"family", "birth_date"}))
NUCC = "http://nucc.org/provider-taxonomy"
NCPDP_SAMPLE = Path(__file__).parents[2] / "adapters" / "ncpdp" / "samples" / "rxhistory-2017071-prescriber.xml"


@dataclass
class Hub:
    http: TestClient
    base: str
    registry: SqliteRegistry
    backend: FakeSearchBackend
    app: Any
    partner_client: str
    partner_key: ClientKey
    ehr: Registration

    async def token(self, scope: str = scopes.INTERSTATE, *, client_id: str = "", key: ClientKey | None = None) -> str:
        client_id, key = client_id or self.partner_client, key or self.partner_key
        form = token_form(key.assertion(client_id, f"{self.base}/oauth/token"), scope)
        response = await self.http.post("/oauth/token", data=form)
        body = await response.json()
        assert response.status == 200, body
        return str(body["access_token"])

    async def pmix(self, body: bytes, token: str | None = "", **headers: str) -> Any:
        if token == "":
            token = await self.token()
        auth = {"Authorization": f"Bearer {token}"} if token else {}
        return await self.http.post("/interstate/pmix", data=body, headers={**XML, **auth, **headers})

    async def audit(self) -> list[AuditRecord]:
        return [r.record for r in await self.app[AUDIT].store.records() if r.record.kind == "request"]


HubFactory = Callable[..., Awaitable[Hub]]


@pytest.fixture
def make_hub(aiohttp_client: Any, tmp_path: Path) -> HubFactory:
    async def make(**settings: Any) -> Hub:
        port = unused_port()
        base = f"http://127.0.0.1:{port}"
        registry = SqliteRegistry(tmp_path / "gateway.sqlite3")
        await registry.open()
        partner = (await registry.add_partner("NV", name="Nevada PMP", inbound=POLICY, by="test")).partner
        key = ClientKey.generate(kid="nv-hub-1")
        client = (await registry.add_client(partner.eds_id, scope=scopes.INTERSTATE, jwks=key.jwks())).client
        ehr = await register_client(registry, npi=NPI)
        backend = FakeSearchBackend(found(3))
        app = create_app(
            settings_for_tests(tmp_path, **settings),
            "",
            cursor_key=load_or_create_key(tmp_path),
            issuer=base,
            backend=backend,
            registry=registry,
        )
        http = await aiohttp_client(app, server_kwargs={"port": port})
        return Hub(http, base, registry, backend, app, client.client_id, key, ehr)

    return make


@pytest.fixture
async def hub(make_hub: HubFactory) -> Hub:
    return await make_hub()


def request_body(
    *,
    taxonomy: str = "207R00000X",
    requesting: str = "NV",
    disclosing: str = "UT",
    role: pb.Role.ValueType = pb.ROLE_PRESCRIBER,
    birth_date: str = "1989-03-12",
) -> bytes:
    search = pb.SearchHistoryRequest(
        patient=pb.PatientQuery(
            name=pb.HumanName(family="Samuels", given="August"), birth_date=birth_date, gender=pb.GENDER_MALE
        ),
        requester=pb.Requester(
            role=role, practitioner=pb.Practitioner(name=pb.HumanName(family="Amster", given="Adam"), npi=NPI)
        ),
        date_range=pb.DateRange(start="2025-01-01", end="2025-12-31"),
    )
    return pmix.encode_request(
        search,
        request_id="nv-req-1",
        requesting_state=requesting,
        disclosing_state=disclosing,
        requester_taxonomy=taxonomy,
    )


def report(body: bytes) -> etree._Element:
    """The reply, valid against the schema."""
    assert pmix.validate(body) == [], body[:600]
    root = etree.fromstring(body)
    assert root.tag == X + "PMPPrescriptionReport"
    return root


def status_of(body: bytes) -> tuple[str, str]:
    root = report(body)
    return (
        root.findtext(f"{X}ResponseStatus/{X}ResponseStatusCode") or "",
        root.findtext(f"{X}ResponseStatus/{X}ResponseStatusText") or "",
    )


def prescriptions(body: bytes) -> list[etree._Element]:
    return report(body).findall(f".//{{{pmix.PMP_NS}}}Prescription")


def fhir_body(specialty: str | None = "207R00000X") -> bytes:
    params = copy.deepcopy(example(EX1))
    for p in params["parameter"]:
        if p["name"] == "authorized-practitioner-role" and specialty:
            p["resource"]["specialty"] = [{"coding": [{"system": NUCC, "code": specialty}]}]
    return orjson.dumps(params)


# ---- answers


async def test_a_partner_gets_a_complete_report(hub: Hub) -> None:
    response = await hub.pmix(request_body())
    body = await response.read()
    assert response.status == 200 and response.content_type == "application/xml", body
    assert status_of(body)[0] == pmix.COMPLETE
    root = report(body)
    assert root.findtext(f"{X}RequestID") == "nv-req-1"
    assert len(prescriptions(body)) == 3
    sent, _ = hub.backend.calls[-1]
    assert (sent.requester.state, sent.requester.user_id, list(sent.states)) == ("NV", "", ["NONE"])
    assert sent.requester.role == pb.ROLE_PRESCRIBER and sent.page_size == 500  # a hub cannot page
    [record] = await hub.audit()
    assert (record.protocol, record.partner_state, record.outcome, record.records) == ("pmix", "NV", "provided", 3)
    assert record.eds_id == (await hub.registry.get_partner("NV")).partner.eds_id  # type: ignore[union-attr]


async def test_no_match_is_no_data_with_200_as_no_dispensation_is(hub: Hub) -> None:
    answers = [
        pb.SearchHistoryResponse(match_status=pb.MATCH_STATUS_NOT_FOUND),
        pb.SearchHistoryResponse(match_status=pb.MATCH_STATUS_FOUND),
        PmpError(pb.ERROR_CODE_PATIENT_NOT_FOUND, "no patient above the threshold"),
    ]
    texts = set()
    for answer in answers:
        hub.backend.answer = answer
        response = await hub.pmix(request_body())
        assert response.status == 200
        code, text = status_of(await response.read())
        assert code == pmix.NO_DATA
        texts.add(text)
    assert len(texts) == 1  # the reply does not say whether the PMP knows the person
    hub.backend.answer = pb.SearchHistoryResponse(match_status=pb.MATCH_STATUS_AMBIGUOUS)
    response = await hub.pmix(request_body())
    assert response.status == 200 and status_of(await response.read())[0] == pmix.DEFERRED
    assert [r.partner_state for r in await hub.audit()] == ["NV"] * 4


async def test_a_partner_hub_speaking_fhir_uses_pdmp_history(hub: Hub) -> None:
    token = await hub.token()
    response = await hub.http.post(
        "/fhir/Patient/$pdmp-history", data=fhir_body(), headers={**FHIR, "Authorization": f"Bearer {token}"}
    )
    assert response.status == 200, await response.text()
    valid_parameters(await response.read())
    sent, _ = hub.backend.calls[-1]
    assert (sent.requester.state, list(sent.states)) == ("NV", ["NONE"])
    [record] = await hub.audit()
    assert (record.protocol, record.partner_state, record.outcome) == ("fhir", "NV", "provided")
    uncoded = await hub.http.post(
        "/fhir/Patient/$pdmp-history", data=fhir_body(None), headers={**FHIR, "Authorization": f"Bearer {token}"}
    )
    assert uncoded.status == 403  # no role: the partner's policy cannot allow it
    valid_outcome(await uncoded.read())


# ---- who may use what


async def test_a_partner_token_opens_no_other_route(hub: Hub) -> None:
    auth = {"Authorization": f"Bearer {await hub.token()}"}
    params = {"subject:Patient.family": "Samuels", "subject:Patient.birthdate": "1989-03-12"}
    end_user = {"X-PMP-End-User": f"role=prescriber; npi={NPI}"}
    search = await hub.http.get("/fhir/MedicationDispense", params=params, headers={**FHIR, **auth, **end_user})
    assert search.status == 403
    assert scopes.MEDICATION_DISPENSE_READ in valid_outcome(await search.read())["issue"][0]["diagnostics"]
    script = await hub.http.post("/ncpdp/script", data=NCPDP_SAMPLE.read_bytes(), headers={**XML, **auth})
    assert script.status == 403
    reply = etree.fromstring(await script.read())
    assert ncpdp.validate(reply, ncpdp.V2017071) == []
    assert reply.findtext("s:Body/s:Error/s:Code", namespaces={"s": "http://www.ncpdp.org/schema/SCRIPT"}) == "900"
    admin = await hub.http.get("/admin/suspensions", headers=auth)
    assert admin.status == 403
    assert not hub.backend.calls


async def test_an_ehr_token_cannot_reach_the_interstate_route(hub: Hub) -> None:
    ehr_token = await hub.token(
        f"{scopes.MEDICATION_DISPENSE_READ} {scopes.NCPDP_HISTORY}", client_id=hub.ehr.client_id, key=hub.ehr.key
    )
    response = await hub.pmix(request_body(), ehr_token)
    assert response.status == 403
    code, text = status_of(await response.read())
    assert code == pmix.DISALLOWED and scopes.INTERSTATE in text
    # an in-state client that holds pmp/interstate (allowed before partners existed) is still no partner
    with_interstate = await hub.registry.add_client(hub.ehr.eds_id, scope=scopes.INTERSTATE, jwks=hub.ehr.key.jwks())
    token = await hub.token(client_id=with_interstate.client.client_id, key=hub.ehr.key)
    response = await hub.pmix(request_body(), token)
    assert response.status == 403 and status_of(await response.read())[0] == pmix.DISALLOWED
    fhir = await hub.http.post(
        "/fhir/Patient/$pdmp-history", data=fhir_body(), headers={**FHIR, "Authorization": f"Bearer {token}"}
    )
    assert fhir.status == 403
    valid_outcome(await fhir.read())
    assert not hub.backend.calls
    assert {r.partner_state for r in await hub.audit()} == {""}


async def test_no_token_is_401_with_a_challenge_in_pmix_terms(hub: Hub) -> None:
    response = await hub.pmix(request_body(), None)
    assert response.status == 401 and response.headers["WWW-Authenticate"].startswith("Bearer")
    assert status_of(await response.read())[0] == pmix.DISALLOWED


# ---- the partner's policy


@pytest.mark.parametrize(
    ("body", "status", "code", "words"),
    [
        (request_body(taxonomy="363LF0000X"), 403, pmix.DISALLOWED, "requester role"),
        (request_body(requesting="AZ"), 403, pmix.DISALLOWED, "requesting state"),
        (request_body(disclosing="AZ"), 400, pmix.ERROR, "another state"),
    ],
)
async def test_policy_refusals(hub: Hub, body: bytes, status: int, code: str, words: str) -> None:
    response = await hub.pmix(body)
    assert response.status == status
    got, text = status_of(await response.read())
    assert got == code and words in text
    assert not hub.backend.calls


async def test_refusals_are_audited_with_the_partner_state(hub: Hub) -> None:
    await hub.pmix(request_body(taxonomy="363LF0000X"))
    await hub.pmix(request_body(requesting="AZ"))
    assert [(r.partner_state, r.outcome, r.error_code) for r in await hub.audit()] == [
        ("NV", "disallowed", "forbidden"),
        ("NV", "disallowed", "forbidden"),
    ]


def with_role_text(body: bytes, text: str) -> bytes:
    """A PMIX request whose pmix:RequesterRole says ``text`` (request_body writes "Prescriber")."""
    assert body.count(b">Prescriber</pmix:RequesterRole>") == 1
    return body.replace(b">Prescriber</pmix:RequesterRole>", f">{text}</pmix:RequesterRole>".encode())


@pytest.mark.parametrize(
    ("text", "taxonomy", "words"),
    [
        ("Dentist", "", "none was given"),  # a role text alone: the policy is by code
        ("Physician", "183500000X", "does not match its taxonomy code 183500000X"),  # a pharmacist as a physician
        ("Prescriber", "183700000X", "does not match its taxonomy code 183700000X"),  # a technician as a prescriber
    ],
)
async def test_a_requester_the_policy_cannot_vouch_for_is_disallowed(
    hub: Hub, text: str, taxonomy: str, words: str
) -> None:
    technicians = InboundPolicy(POLICY.allowed_taxonomies | {"183700000X"}, POLICY.required_patient_fields)
    await hub.registry.update_partner("NV", lambda p: replace(p, inbound=technicians), by="division")
    body = with_role_text(request_body(taxonomy=taxonomy), text)
    assert (b"RequesterRoleTaxonomyCode" in body) == bool(taxonomy)
    response = await hub.pmix(body)
    assert response.status == 403
    code, reply = status_of(await response.read())
    assert code == pmix.DISALLOWED and words in reply and "Amster" not in reply and "Samuels" not in reply
    assert not hub.backend.calls
    [record] = await hub.audit()
    assert (record.partner_state, record.outcome, record.error_code) == ("NV", "disallowed", "forbidden")


async def test_a_technician_is_held_to_the_delegate_rule(hub: Hub) -> None:
    """Passed as a delegate (never a prescriber), a technician without a supervisor meets authorize's rule."""
    technicians = InboundPolicy(frozenset({"183700000X"}), POLICY.required_patient_fields)
    await hub.registry.update_partner("NV", lambda p: replace(p, inbound=technicians), by="division")
    response = await hub.pmix(with_role_text(request_body(taxonomy="183700000X"), "Pharmacist Delegate"))
    assert response.status == 403
    code, text = status_of(await response.read())
    assert code == pmix.DISALLOWED and "supervising practitioner" in text
    assert not hub.backend.calls


async def test_a_fhir_requester_is_held_to_its_nucc_code(hub: Hub) -> None:
    auth = {**FHIR, "Authorization": f"Bearer {await hub.token()}"}
    for specialty in ("1223G0001X", "207Q00000X"):  # a dentist, a family physician: prescribers, neither listed
        response = await hub.http.post("/fhir/Patient/$pdmp-history", data=fhir_body(specialty), headers=auth)
        assert response.status == 403
        [issue] = valid_outcome(await response.read())["issue"]
        assert f"taxonomy code {specialty} is not allowed" in issue["diagnostics"]
    # a practitioner-role "doctor" code beside a pharmacist's NUCC specialty: the role does not match the code
    params = orjson.loads(fhir_body("183500000X"))
    for parameter in params["parameter"]:
        if parameter["name"] == "authorized-practitioner-role":
            doctor = {"system": "http://terminology.hl7.org/CodeSystem/practitioner-role", "code": "doctor"}
            parameter["resource"]["code"] = [{"coding": [doctor]}]
    response = await hub.http.post("/fhir/Patient/$pdmp-history", data=orjson.dumps(params), headers=auth)
    assert response.status == 403
    [issue] = valid_outcome(await response.read())["issue"]
    assert "does not match its taxonomy code 183500000X" in issue["diagnostics"]
    assert not hub.backend.calls
    assert {(r.partner_state, r.outcome) for r in await hub.audit()} == {("NV", "disallowed")}


async def test_a_missing_required_field_is_an_error_naming_it(hub: Hub) -> None:
    stricter = InboundPolicy(POLICY.allowed_taxonomies, frozenset({"family", "postal_code"}))
    await hub.registry.update_partner("NV", lambda p: replace(p, inbound=stricter), by="division")
    response = await hub.pmix(request_body())
    assert response.status == 400
    code, text = status_of(await response.read())
    assert code == pmix.ERROR and "postal_code" in text and "family" not in text
    [record] = await hub.audit()
    assert (record.partner_state, record.outcome, record.error_code) == ("NV", "error", "invalid_request")


async def test_a_disabled_partner_is_disallowed(hub: Hub) -> None:
    token = await hub.token()
    await hub.registry.set_partner_status("NV", PartnerStatus.DISABLED, by="division")
    response = await hub.pmix(request_body(), token)
    assert response.status == 403
    code, text = status_of(await response.read())
    assert code == pmix.DISALLOWED and "disabled" in text
    [record] = await hub.audit()
    assert (record.partner_state, record.outcome) == ("NV", "disallowed")


async def test_a_disabled_hub_client_is_refused_by_identify_under_the_state(hub: Hub) -> None:
    token = await hub.token()
    await hub.registry.disable_client(hub.partner_client)
    response = await hub.pmix(request_body(), token)
    assert response.status == 403 and status_of(await response.read())[0] == pmix.DISALLOWED
    [record] = await hub.audit()
    assert (record.partner_state, record.outcome, record.error_code) == ("NV", "disallowed", "not_registered")


async def test_a_suspended_state_is_disallowed_at_once(hub: Hub) -> None:
    token = await hub.token()
    await hub.app[SERVICES].suspensions.suspend(SuspensionKind.STATE, "NV", reason="MOU lapsed", by="division")
    response = await hub.pmix(request_body(), token)
    assert response.status == 403
    code, text = status_of(await response.read())
    assert code == pmix.DISALLOWED and "partner state is suspended" in text and "MOU" not in text
    [record] = await hub.audit()
    assert (record.partner_state, record.outcome) == ("NV", "suspended")


async def test_a_state_over_its_quota_is_told_when_to_retry(make_hub: HubFactory) -> None:
    hub = await make_hub(rate_limit_state="2/60,burst=2", rate_limit_eds="off")
    token = await hub.token()
    for _ in range(2):
        assert (await hub.pmix(request_body(), token)).status == 200
    response = await hub.pmix(request_body(), token)
    assert response.status == 429 and int(response.headers["Retry-After"]) >= 1
    assert '"state"' in response.headers["RateLimit-Policy"]
    code, text = status_of(await response.read())
    assert code == pmix.ERROR and "state" in text
    root = report(await response.read())
    assert int(root.findtext(f"{X}ResponseStatus/{X}RetryAfterSeconds") or 0) >= 1
    assert [(r.partner_state, r.outcome) for r in await hub.audit()][-1] == ("NV", "rate-limited")


async def test_a_backend_failure_is_an_error_with_retry(hub: Hub) -> None:
    hub.backend.answer = PmpError(pb.ERROR_CODE_BACKEND_UNAVAILABLE, "pmpdb is down", retry_after=2.0)
    response = await hub.pmix(request_body())
    assert response.status == 503 and response.headers["Retry-After"] == "2"
    assert status_of(await response.read())[0] == pmix.ERROR
    [record] = await hub.audit()
    assert (record.partner_state, record.outcome, record.error_code) == ("NV", "error", "backend_unavailable")


# ---- the route's own refusals


async def test_media_types(hub: Hub) -> None:
    token = await hub.token()
    wrong = await hub.pmix(request_body(), token, **{"Content-Type": "application/json"})
    assert wrong.status == 415 and status_of(await wrong.read())[0] == pmix.ERROR
    html = await hub.pmix(request_body(), token, Accept="text/html")
    assert html.status == 406 and status_of(await html.read())[0] == pmix.ERROR
    text_xml = await hub.pmix(request_body(), token, **{"Content-Type": "text/xml", "Accept": "text/xml"})
    assert text_xml.status == 200


@pytest.mark.parametrize(
    "body",
    [
        b"not xml at all",
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>',
        b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]><l>&b;</l>',
        b"<PMPRequest/>",
        request_body().replace(b"nv-req-1", b"nv-req-9").replace(b"1989-03-12", b"1989-02-30"),
        request_body()[:200],
        "<x>é</x>".encode("latin-1"),
    ],
)
async def test_hostile_and_malformed_bodies_are_pmix_errors(hub: Hub, body: bytes) -> None:
    response = await hub.pmix(body)
    assert response.status == 400, await response.text()
    reply = await response.read()
    assert status_of(reply)[0] == pmix.ERROR and b"passwd" not in reply
    if b"nv-req-9" in body:
        assert report(reply).findtext(f"{X}RequestID") == "nv-req-9"  # salvaged, so the hub can match it
    assert not hub.backend.calls


async def test_errors_before_the_route_are_pmix_reports(make_hub: HubFactory) -> None:
    hub = await make_hub(max_body_bytes=4096)
    big = await hub.pmix(
        request_body().replace(b"</pmix:PMPRequest>", b"<!--" + b"x" * 5000 + b"--></pmix:PMPRequest>")
    )
    assert big.status == 413 and status_of(await big.read())[0] == pmix.ERROR
    missing = await hub.http.post("/interstate/nowhere", data=b"<x/>", headers=XML)
    assert missing.status == 404 and status_of(await missing.read())[0] == pmix.ERROR
    wrong_method = await hub.http.get("/interstate/pmix")
    assert wrong_method.status == 405 and wrong_method.headers["Allow"] == "POST"
    assert status_of(await wrong_method.read())[0] == pmix.ERROR


async def test_a_report_posted_as_a_request_is_refused(hub: Hub) -> None:
    reply = await (await hub.pmix(request_body())).read()
    response = await hub.pmix(reply)
    assert response.status == 400
    assert status_of(await response.read())[0] == pmix.ERROR


async def test_the_exchange_namespace_is_a_setting(make_hub: HubFactory) -> None:
    other = "https://pmix.example.org/exchange/2.1"
    hub = await make_hub(pmix_exchange_ns=other)
    body = request_body().replace(pmix.DEFAULT_EXCHANGE_NS.encode(), other.encode())
    response = await hub.pmix(body)
    reply = await response.read()
    assert response.status == 200 and pmix.validate(reply, exchange_ns=other) == []
    assert etree.fromstring(reply).tag == "{" + other + "}PMPPrescriptionReport"
    assert (await hub.pmix(request_body())).status == 400  # the default namespace is not this hub's


def test_a_bad_exchange_namespace_fails_at_start_up(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="exchange namespace"):
        create_app(
            settings_for_tests(tmp_path, pmix_exchange_ns="not a uri"),
            "",
            cursor_key=load_or_create_key(tmp_path),
            issuer="http://127.0.0.1",
            backend=FakeSearchBackend(found(1)),
        )


def test_the_settings_default_is_the_codecs() -> None:
    assert settings_for_tests(Path("unused")).pmix_exchange_ns == pmix.DEFAULT_EXCHANGE_NS
