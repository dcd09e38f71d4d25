"""A partner state asking us, end to end (issue 9, inbound): a real ``pmp-gateway serve`` on demo data; the
partner (NV) and its hub's OAuth client registered with the CLI; authlib's own OAuth client gets the hub a token
(SMART ``private_key_jwt``), and the hub asks by PMIX and by FHIR ``$pdmp-history`` and gets exactly the demo
person's dispensations. Suspended with ``pmp-gateway suspend state NV`` it is refused in PMIX terms (``disallowed``),
and past its state quota too (``error`` with a retry time). ``pmp-gateway audit usage`` counts every answer and
refusal under the partner state. Every PMIX message is validated against the project's schema, every FHIR one with
fhir.resources."""

from __future__ import annotations

import asyncio
import copy
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import orjson
import pytest
from authlib.integrations.httpx_client import AsyncOAuth2Client  # type: ignore[import-untyped]
from lxml import etree

from adapters import pmix
from gateway.auth import scopes
from gateway.testing import ClientKey
from protos.pmp.v1 import pmp_pb2 as pb
from tests.adapters.fhir.fhir_test_data import history_bundle, resources_of, valid_outcome, valid_parameters
from tests.e2e.demo_queries import history_parameters
from tests.e2e.processes import cli_env, cli_json, running
from tests.e2e.smart_client import smart_client

READY = r"listening on http://([\d.]+):(\d+)"
X = "{" + pmix.DEFAULT_EXCHANGE_NS + "}"
PMP = "{" + pmix.PMP_NS + "}"
NC = "{" + pmix.NC_NS + "}"
STATE_QUOTA_BURST = 20
REQUESTER_NPI = "1003000126"  # the out-of-state prescriber: registered nowhere here
NUCC = "http://nucc.org/provider-taxonomy"

pytestmark = pytest.mark.slow


@pytest.fixture
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    data = tmp_path_factory.mktemp("data")
    env = cli_env(data, PMP_RATE_LIMIT_STATE=f"{STATE_QUOTA_BURST}/600,burst={STATE_QUOTA_BURST}")
    partner = cli_json(
        env, "partners", "add", "NV", "--name", "Nevada PMP", "--taxonomy", "207R00000X", "--require", "birth_date"
    )
    key = ClientKey.generate(kid="nv-hub-1")
    (data / "nv-hub.jwks").write_text(json.dumps(key.jwks()))
    client = cli_json(
        env,
        "clients",
        "add",
        "--eds",
        partner["eds_id"],
        "--jwks",
        str(data / "nv-hub.jwks"),
        "--scope",
        "pmp/interstate",
    )
    with running("serve", "--port", "0", env=env, ready=READY) as (_, m):
        truth = json.loads((data / "demo" / "ground-truth.json").read_text())
        yield {
            "base": f"http://{m.group(1)}:{m.group(2)}",
            "env": env,
            "client_id": client["client_id"],
            "key": key,
            "truth": truth,
        }


@pytest.fixture
async def hub(deployment: dict[str, Any]) -> AsyncIterator[AsyncOAuth2Client]:
    """The partner hub's OAuth client (authlib), holding a ``pmp/interstate`` token."""
    async with smart_client(
        deployment["base"], deployment["client_id"], deployment["key"], scopes.INTERSTATE
    ) as client:
        assert client.token["scope"] == scopes.INTERSTATE and client.token["expires_in"] <= 300
        yield client


def _pmix_request(person: dict[str, Any], truth: dict[str, Any]) -> bytes:
    q = person["query"]
    search = pb.SearchHistoryRequest(
        patient=pb.PatientQuery(
            name=pb.HumanName(family=q["last_name"], given=q["first_name"]),
            birth_date=q["birth_date"],
            gender={"F": pb.GENDER_FEMALE, "M": pb.GENDER_MALE}.get(q["gender"], pb.GENDER_UNKNOWN),
            address=pb.Address(postal_code=q["zip"]),
        ),
        requester=pb.Requester(
            role=pb.ROLE_PRESCRIBER,
            practitioner=pb.Practitioner(name=pb.HumanName(family="Reyes", given="Ana"), npi=REQUESTER_NPI),
        ),
        date_range=pb.DateRange(start=truth["start"], end=truth["end"]),
    )
    return pmix.encode_request(
        search,
        request_id=f"nv-{uuid.uuid4().hex[:12]}",
        requesting_state="NV",
        disclosing_state="UT",
        requester_taxonomy="207R00000X",
    )


def _fhir_request(person: dict[str, Any], truth: dict[str, Any]) -> bytes:
    params = copy.deepcopy(history_parameters(person, truth))
    for p in params["parameter"]:
        if p["name"] == "authorized-practitioner":
            p["resource"]["identifier"] = [{"system": "http://hl7.org/fhir/sid/us-npi", "value": REQUESTER_NPI}]
        if p["name"] == "authorized-practitioner-role":
            p["resource"]["specialty"] = [{"coding": [{"system": NUCC, "code": "207R00000X"}]}]
    return orjson.dumps(params)


def _report(body: bytes) -> etree._Element:
    assert pmix.validate(body) == [], body[:600]
    return etree.fromstring(body)


def _status(root: etree._Element) -> str:
    return root.findtext(f"{X}ResponseStatus/{X}ResponseStatusCode") or ""


async def _ask(hub: AsyncOAuth2Client, base: str, body: bytes) -> httpx.Response:
    response: httpx.Response = await hub.post(
        f"{base}/interstate/pmix", content=body, headers={"Content-Type": "application/xml"}
    )
    return response


async def test_a_partner_state_asks_us(hub: AsyncOAuth2Client, deployment: dict[str, Any]) -> None:
    """One story, in order (a single test so that no runner splits it): the answers, a suspension, the quota, the
    audit."""
    person = next(p for p in deployment["truth"]["people"] if 3 <= len(p["dispensations"]) <= 40)
    await _answers_by_pmix_and_fhir(hub, deployment, person)
    await _suspended_then_answered_again(hub, deployment, person)
    await _over_the_state_quota(hub, deployment, person)
    _audited_under_the_partner_state(deployment)


async def _answers_by_pmix_and_fhir(hub: AsyncOAuth2Client, deployment: dict[str, Any], person: dict[str, Any]) -> None:
    base, truth = deployment["base"], deployment["truth"]
    want = sorted((d["date_filled"], d["rx_number"]) for d in person["dispensations"])

    response = await _ask(hub, base, _pmix_request(person, truth))
    assert response.status_code == 200, response.text
    root = _report(response.content)
    assert _status(root) == pmix.COMPLETE
    got = sorted(
        (p.findtext(f"{PMP}PrescriptionFilledDate/{NC}Date"), p.findtext(f"{PMP}PrescriptionNumberText"))
        for p in root.iter(f"{PMP}Prescription")
    )
    assert got == want

    response = await hub.post(
        f"{base}/fhir/Patient/$pdmp-history",
        content=_fhir_request(person, truth),
        headers={"Content-Type": "application/fhir+json"},
    )
    assert response.status_code == 200, response.text
    parameters = valid_parameters(response.content)
    dispenses = resources_of(history_bundle(parameters), "MedicationDispense")
    assert sorted(d["whenPrepared"][:10] for d in dispenses) == [d for d, _ in want]

    # the partner's token opens no other door
    q = person["query"]
    search = await hub.get(
        f"{base}/fhir/MedicationDispense",
        params={"subject:Patient.family": q["last_name"], "subject:Patient.birthdate": q["birth_date"]},
        headers={"X-PMP-End-User": f"role=prescriber; npi={REQUESTER_NPI}"},
    )
    assert search.status_code == 403
    valid_outcome(search.content)


async def _until(check: Any, bound: float = 10.0) -> Any:
    """Poll ``check`` (an async callable returning a value or None) until it gives a value, within ``bound`` s."""
    deadline = time.monotonic() + bound
    while True:
        found = await check()
        if found is not None or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.2)


async def _suspended_then_answered_again(
    hub: AsyncOAuth2Client, deployment: dict[str, Any], person: dict[str, Any]
) -> None:
    base, env, truth = deployment["base"], deployment["env"], deployment["truth"]
    suspension = cli_json(env, "suspend", "state", "NV", "--reason", "MOU under review", "--by", "division")

    async def refused() -> etree._Element | None:
        response = await _ask(hub, base, _pmix_request(person, truth))
        if response.status_code == 200:  # not yet seen by serve (it checks every 0.5 s)
            _report(response.content)
            return None
        assert response.status_code == 403, response.text
        return _report(response.content)

    root = await _until(refused)
    assert root is not None and _status(root) == pmix.DISALLOWED
    text = root.findtext(f"{X}ResponseStatus/{X}ResponseStatusText") or ""
    assert "partner state is suspended" in text and "MOU" not in text

    cli_json(env, "reinstate", suspension["id"], "--reason", "MOU renewed")

    async def answered() -> bool | None:
        response = await _ask(hub, base, _pmix_request(person, truth))
        return True if response.status_code == 200 and _status(_report(response.content)) == pmix.COMPLETE else None

    assert await _until(answered)


async def _over_the_state_quota(hub: AsyncOAuth2Client, deployment: dict[str, Any], person: dict[str, Any]) -> None:
    base, truth = deployment["base"], deployment["truth"]
    for _ in range(STATE_QUOTA_BURST + 1):
        response = await _ask(hub, base, _pmix_request(person, truth))
        if response.status_code == 429:
            break
        assert response.status_code == 200, response.text
    assert response.status_code == 429
    root = _report(response.content)
    assert _status(root) == pmix.ERROR
    assert int(response.headers["Retry-After"]) >= 1
    assert int(root.findtext(f"{X}ResponseStatus/{X}RetryAfterSeconds") or 0) >= 1


def _audited_under_the_partner_state(deployment: dict[str, Any]) -> None:
    usage = cli_json(deployment["env"], "audit", "usage", json_flag=False)
    [nevada] = [row for row in usage["by_state"] if row["key"] == "NV"]
    outcomes = nevada["outcomes"]
    assert outcomes["provided"] >= 3  # PMIX, FHIR, after the reinstatement (and until the quota ran out)
    assert outcomes["suspended"] >= 1 and outcomes["rate-limited"] == 1
