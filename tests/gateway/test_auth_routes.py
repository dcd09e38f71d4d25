"""The whole gateway app with its authenticate and identify stages on: a real token service, a SQLite registry,
a fake pmpdb. Tokens come from ``POST /oauth/token`` with SMART client assertions; every refusal is checked in the
protocol of the route (FHIR OperationOutcome, NCPDP Error / Denied)."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient, unused_port
from lxml import etree

from adapters import ncpdp
from gateway.app import SERVICES, create_app
from gateway.auth import scopes
from gateway.cursor import load_or_create_key
from gateway.policy.registry.model import NewUser, UserRole
from gateway.policy.registry.store.base import RegistryStore
from gateway.policy.registry.store.sqlite import SqliteRegistry
from gateway.testing import ClientKey, FakeSearchBackend, Registration, register_client, settings_for_tests, token_form
from tests.adapters.fhir.fhir_test_data import EX1, example, found, valid_outcome, valid_parameters

FHIR = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}
XML = {"Content-Type": "application/xml"}
EX1_NPI = "1928340565"  # the IG example's authorized practitioner
SAMPLES = Path(__file__).parents[1] / "adapters" / "ncpdp" / "samples"
NS = {"s": "http://www.ncpdp.org/schema/SCRIPT"}


@dataclass
class Gateway:
    http: TestClient
    base: str
    registry: RegistryStore
    registration: Registration
    backend: FakeSearchBackend

    async def token(
        self, registration: Registration | None = None, scope: str = scopes.MEDICATION_DISPENSE_READ
    ) -> str:
        reg = registration or self.registration
        form = token_form(reg.key.assertion(reg.client_id, f"{self.base}/oauth/token"), scope)
        response = await self.http.post("/oauth/token", data=form)
        body = await response.json()
        assert response.status == 200, body
        return str(body["access_token"])


@pytest.fixture
async def gateway(aiohttp_client: Any, tmp_path: Path) -> Gateway:
    port = unused_port()
    base = f"http://127.0.0.1:{port}"
    registry = SqliteRegistry(tmp_path / "gateway.sqlite3")
    await registry.open()
    registration = await register_client(registry, npi=EX1_NPI)
    backend = FakeSearchBackend(found(3))
    settings = settings_for_tests(tmp_path)
    app = create_app(
        settings, "", cursor_key=load_or_create_key(tmp_path), issuer=base, backend=backend, registry=registry
    )
    http = await aiohttp_client(app, server_kwargs={"port": port})
    assert app[SERVICES].registry is registry
    return Gateway(http, base, registry, registration, backend)


def _ex1(**practitioner: Any) -> bytes:
    params = copy.deepcopy(example(EX1))
    for p in params["parameter"]:
        if p["name"] == "authorized-practitioner" and practitioner:
            p["resource"].update(practitioner)
    return orjson.dumps(params)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _outcome(response: Any, status: int) -> dict[str, Any]:
    assert response.status == status, await response.text()
    return valid_outcome(await response.read())


async def test_fhir_history_with_a_token_names_the_registered_user(gateway: Gateway) -> None:
    token = await gateway.token()
    response = await gateway.http.post("/fhir/Patient/$pdmp-history", data=_ex1(), headers={**FHIR, **_bearer(token)})
    assert response.status == 200, await response.text()
    valid_parameters(await response.read())
    sent, _ = gateway.backend.calls[-1]
    assert sent.requester.user_id == gateway.registration.user_id  # the registry's id replaced the message's


async def test_no_token_is_401_with_a_bearer_challenge(gateway: Gateway) -> None:
    response = await gateway.http.post("/fhir/Patient/$pdmp-history", data=_ex1(), headers=FHIR)
    outcome = await _outcome(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert outcome["issue"][0]["code"] == "login"
    assert not gateway.backend.calls


async def test_a_forged_or_revoked_token_is_401(gateway: Gateway) -> None:
    token = await gateway.token()
    head, payload, _ = token.split(".")
    forged = f"{head}.{payload}.{'A' * 342}"
    response = await gateway.http.post("/fhir/Patient/$pdmp-history", data=_ex1(), headers={**FHIR, **_bearer(forged)})
    await _outcome(response, 401)
    reg = gateway.registration
    revoke = {
        "token": token,
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": reg.key.assertion(reg.client_id, f"{gateway.base}/oauth/revoke"),
    }
    assert (await gateway.http.post("/oauth/revoke", data=revoke)).status == 200
    response = await gateway.http.post("/fhir/Patient/$pdmp-history", data=_ex1(), headers={**FHIR, **_bearer(token)})
    await _outcome(response, 401)


async def test_a_token_without_the_fhir_scope_is_403(gateway: Gateway) -> None:
    token = await gateway.token(scope=scopes.NCPDP_HISTORY)
    response = await gateway.http.post("/fhir/Patient/$pdmp-history", data=_ex1(), headers={**FHIR, **_bearer(token)})
    outcome = await _outcome(response, 403)
    assert scopes.MEDICATION_DISPENSE_READ in outcome["issue"][0]["diagnostics"]


async def test_an_unregistered_end_user_is_disallowed(gateway: Gateway) -> None:
    token = await gateway.token()
    other = {"identifier": [{"system": "http://hl7.org/fhir/sid/us-npi", "value": "1665015602"}]}
    response = await gateway.http.post(
        "/fhir/Patient/$pdmp-history", data=_ex1(**other), headers={**FHIR, **_bearer(token)}
    )
    outcome = await _outcome(response, 403)
    assert "1665015602" not in orjson.dumps(outcome).decode()  # refusals never echo identifiers
    assert not gateway.backend.calls


async def test_a_user_of_another_eds_is_disallowed(gateway: Gateway) -> None:
    other = await register_client(gateway.registry, npi="1665015602")
    token = await gateway.token(other)  # EDS 2's client naming EDS 1's prescriber (EX1's NPI)
    response = await gateway.http.post("/fhir/Patient/$pdmp-history", data=_ex1(), headers={**FHIR, **_bearer(token)})
    await _outcome(response, 403)


async def test_a_disabled_client_gets_no_token_and_its_tokens_stop_working(gateway: Gateway) -> None:
    token = await gateway.token()
    await gateway.registry.disable_client(gateway.registration.client_id)
    response = await gateway.http.post("/fhir/Patient/$pdmp-history", data=_ex1(), headers={**FHIR, **_bearer(token)})
    assert response.status in (401, 403)
    reg = gateway.registration
    form = token_form(reg.key.assertion(reg.client_id, f"{gateway.base}/oauth/token"), scopes.MEDICATION_DISPENSE_READ)
    refused = await gateway.http.post("/oauth/token", data=form)
    # RFC 6749 §5.2: 401 is for a client that authenticated with the Authorization header; an assertion gets 400
    assert (refused.status, (await refused.json())["error"]) == (400, "invalid_client"), await refused.text()


async def test_a_delegate_without_an_approved_supervisor_is_disallowed(gateway: Gateway) -> None:
    delegate = await gateway.registry.add_user(
        NewUser(
            role=UserRole.UNLICENSED_DELEGATE,
            first_name="DANA",
            last_name="DELEGATE",
            eds_ids=(gateway.registration.eds_id,),
            npi="1554505606",
            supervisor_ids=(gateway.registration.user_id,),
        )
    )
    assert delegate.id
    token = await gateway.token()
    params = example("Parameters-pdmp-history-input-parameters-4-delegate")
    for p in params["parameter"]:
        if p["name"] == "authorized-practitioner":
            p["resource"]["identifier"][0]["value"] = EX1_NPI
    response = await gateway.http.post(
        "/fhir/Patient/$pdmp-history", data=orjson.dumps(params), headers={**FHIR, **_bearer(token)}
    )
    outcome = await _outcome(response, 403)  # the supervision is pending until supervisor and division approve
    assert outcome["issue"][0]["code"] == "forbidden"


async def test_ncpdp_with_a_token_and_without(gateway: Gateway) -> None:
    request = (SAMPLES / "rxhistory-2017071-prescriber.xml").read_bytes().replace(b"1928340565", EX1_NPI.encode())
    refused = await gateway.http.post("/ncpdp/script", data=request, headers=XML)
    assert refused.status == 401
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    error = etree.fromstring(await refused.read())
    assert error.findtext("s:Body/s:Error/s:Code", namespaces=NS) == "900"
    assert ncpdp.validate(error, ncpdp.V2017071) == []

    fhir_only = await gateway.token(scope=scopes.MEDICATION_DISPENSE_READ)
    no_scope = await gateway.http.post("/ncpdp/script", data=request, headers={**XML, **_bearer(fhir_only)})
    assert no_scope.status == 403  # an OAuth refusal is an Error 900, never a clinical Denied
    assert etree.fromstring(await no_scope.read()).findtext("s:Body/s:Error/s:Code", namespaces=NS) == "900"

    token = await gateway.token(scope=scopes.NCPDP_HISTORY)
    answered = await gateway.http.post("/ncpdp/script", data=request, headers={**XML, **_bearer(token)})
    assert answered.status == 200, await answered.text()
    reply = etree.fromstring(await answered.read())
    assert reply.find("s:Body/s:RxHistoryResponse/s:Response/s:Approved", namespaces=NS) is not None
    assert ncpdp.validate(reply, ncpdp.V2017071) == []
    assert reply.findtext("s:Header/s:RelatesToMessageID", namespaces=NS) == "2017071-presc-0001"


async def test_the_key_pair_helper_registers_and_rotates(gateway: Gateway) -> None:
    key = ClientKey.generate(kid="second")
    reg = await register_client(gateway.registry, npi="1665015602", key=key)
    assert await gateway.token(reg)


async def test_cursors_and_patient_ids_work_only_for_the_eds_they_were_issued_to(gateway: Gateway) -> None:
    first = found(3)
    first.next_page_token = "page-2"
    gateway.backend.answer = first
    token = await gateway.token()
    end_user = {"X-PMP-End-User": f"role=prescriber; npi={EX1_NPI}"}
    accept = {"Accept": "application/fhir+json"}
    params = {"subject:Patient.family": "Samuels", "subject:Patient.birthdate": "1989-03-12", "_count": "3"}
    response = await gateway.http.get(
        "/fhir/MedicationDispense", params=params, headers={**accept, **end_user, **_bearer(token)}
    )
    assert response.status == 200, await response.text()
    bundle = orjson.loads(await response.read())
    next_path = "/" + next(x["url"] for x in bundle["link"] if x["relation"] == "next").split("/", 3)[3]
    patient_id = next(e["resource"]["id"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient")

    other = await register_client(gateway.registry, npi="1665015602")  # another EDS, its own registered user
    other_token = await gateway.token(other)
    other_user = {"X-PMP-End-User": "role=prescriber; npi=1665015602"}
    calls = len(gateway.backend.calls)
    stolen = await gateway.http.get(next_path, headers={**accept, **other_user, **_bearer(other_token)})
    assert "another EDS" in str((await _outcome(stolen, 400))["issue"][0]["diagnostics"])
    by_id = await gateway.http.get(
        "/fhir/MedicationDispense",
        params={"patient": patient_id},
        headers={**accept, **other_user, **_bearer(other_token)},
    )
    await _outcome(by_id, 400)
    assert len(gateway.backend.calls) == calls  # refused before any search

    gateway.backend.answer = found(3)
    own = await gateway.http.get(next_path, headers={**accept, **end_user, **_bearer(token)})
    assert own.status == 200, await own.text()
    mine = await gateway.http.get(
        "/fhir/MedicationDispense", params={"patient": patient_id}, headers={**accept, **end_user, **_bearer(token)}
    )
    assert mine.status == 200, await mine.text()
