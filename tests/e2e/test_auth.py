"""OAuth end to end (issue 5's demonstration): an EDS, its client and a prescriber are registered with the CLI;
``pmp-gateway serve --workers 2`` (Redis for the shared token state) answers; authlib's own OAuth client gets a
token with a SMART ``private_key_jwt`` assertion and runs a FHIR and an NCPDP query with it. The FHIR and NCPDP
answers for the same person name the same dispensations."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import orjson
import pytest
from authlib.integrations.httpx_client import AsyncOAuth2Client  # type: ignore[import-untyped]
from lxml import etree

from adapters import ncpdp
from gateway.auth import scopes
from gateway.testing import ClientKey
from tests.adapters.fhir.fhir_test_data import EX1, example, history_bundle, resources_of, valid_parameters
from tests.e2e.demo_queries import history_parameters, ncpdp_request
from tests.e2e.processes import cli_env, cli_json, running
from tests.e2e.smart_client import smart_client

READY = r"listening on http://([\d.]+):(\d+)"
NPI = "1928340565"  # the IG example 1's authorized practitioner, registered below
NS = {"s": "http://www.ncpdp.org/schema/SCRIPT"}
SCOPE = f"{scopes.MEDICATION_DISPENSE_READ} {scopes.NCPDP_HISTORY}"

pytestmark = pytest.mark.redis


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    data = tmp_path_factory.mktemp("data")
    env = cli_env(data, PMP_REDIS_URL="redis://127.0.0.1:6379/0", PMP_REDIS_PREFIX=f"test-{uuid.uuid4().hex}:")
    key = ClientKey.generate(kid="ehr-key-1")
    (data / "jwks.json").write_text(json.dumps(key.jwks()))
    eds = cli_json(env, "eds", "add", "--name", "Valley EHR", "--agreement", "DUA-2026-7", "--state", "UT")["id"]
    client = cli_json(env, "clients", "add", "--eds", eds, "--jwks", str(data / "jwks.json"), "--scope", SCOPE)
    cli_json(
        env, "users", "add", "--role", "prescriber", "--first", "ADAM", "--last", "AMSTER", "--npi", NPI, "--eds", eds
    )
    with running("serve", "--port", "0", "--workers", "2", env=env, ready=READY) as (_, m):
        truth = json.loads((data / "demo" / "ground-truth.json").read_text())
        yield {
            "base": f"http://{m.group(1)}:{m.group(2)}",
            "client_id": client["client_id"],
            "key": key,
            "truth": truth,
        }


@pytest.fixture
async def oauth(deployment: dict[str, Any]) -> AsyncIterator[AsyncOAuth2Client]:
    async with smart_client(deployment["base"], deployment["client_id"], deployment["key"], SCOPE) as client:
        assert client.token["expires_in"] <= 300 and "refresh_token" not in client.token
        yield client


def _person(truth: dict[str, Any]) -> dict[str, Any]:
    return next(p for p in truth["people"] if 3 <= len(p["dispensations"]) <= 40)


def _fhir_request(person: dict[str, Any], truth: dict[str, Any]) -> bytes:
    return orjson.dumps(history_parameters(person, truth))


async def test_fhir_and_ncpdp_with_an_authlib_token_name_the_same_dispensations(
    oauth: AsyncOAuth2Client, deployment: dict[str, Any]
) -> None:
    base, truth = deployment["base"], deployment["truth"]
    person = _person(truth)
    fhir = await oauth.post(
        f"{base}/fhir/Patient/$pdmp-history",
        content=_fhir_request(person, truth),
        headers={"Content-Type": "application/fhir+json"},
    )
    assert fhir.status_code == 200, fhir.text
    parameters = valid_parameters(fhir.content)
    dispenses = resources_of(history_bundle(parameters), "MedicationDispense")
    fhir_fills = sorted((d["whenPrepared"][:10], d["identifier"][0]["value"]) for d in dispenses if d.get("identifier"))

    script = await oauth.post(
        f"{base}/ncpdp/script", content=ncpdp_request(person, truth, NPI), headers={"Content-Type": "application/xml"}
    )
    assert script.status_code == 200, script.text
    reply = etree.fromstring(script.content)
    assert ncpdp.validate(reply, ncpdp.V2017071) == []
    dispensed = reply.findall("s:Body/s:RxHistoryResponse/s:MedicationDispensed", namespaces=NS)
    ncpdp_fills = sorted(
        (
            m.findtext("s:LastFillDate/s:Date", namespaces=NS),
            m.findtext("s:HistorySource/s:SourceReference", namespaces=NS),
        )
        for m in dispensed
    )
    assert fhir_fills == ncpdp_fills
    assert len(fhir_fills) == len(person["dispensations"])


async def test_a_token_is_required_on_every_worker(deployment: dict[str, Any]) -> None:
    import httpx

    async with httpx.AsyncClient(trust_env=False) as http:
        for _ in range(4):  # SO_REUSEPORT spreads connections over both workers
            r = await http.post(
                f"{deployment['base']}/fhir/Patient/$pdmp-history",
                content=orjson.dumps(example(EX1)),
                headers={"Content-Type": "application/fhir+json", "Connection": "close"},
            )
            assert r.status_code == 401
