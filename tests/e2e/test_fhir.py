"""FHIR end to end: ``pmp-gateway serve --workers 2`` on demo data, a real FHIR client (fhirpy), every answer
validated with fhir.resources (R4B) and checked against the demo generator's ground truth."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import aiohttp
import orjson
import pytest
from fhirpy import AsyncFHIRClient

from tests.adapters.fhir.fhir_test_data import valid_bundle, valid_outcome, valid_parameters
from tests.e2e.demo_queries import history_parameters
from tests.e2e.processes import NO_AUTH, cli_env, running

READY = r"listening on http://([\d.]+):(\d+)"
END_USER = {"X-PMP-End-User": "role=prescriber; npi=1234567893"}


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, Any]]]:
    data = tmp_path_factory.mktemp("data")
    with running("serve", "--port", "0", "--workers", "2", env=cli_env(data, **NO_AUTH), ready=READY) as (_, m):
        truth = json.loads((data / "demo" / "ground-truth.json").read_text())
        yield f"http://{m.group(1)}:{m.group(2)}", truth


@pytest.fixture
async def client(gateway: tuple[str, dict[str, Any]]) -> AsyncFHIRClient:
    return AsyncFHIRClient(f"{gateway[0]}/fhir", extra_headers=END_USER)


def _pick(truth: dict[str, Any], count: int = 5) -> list[dict[str, Any]]:
    people = [p for p in truth["people"] if 3 <= len(p["dispensations"]) <= 40]
    return people[:count]


async def test_pdmp_history_returns_exactly_the_ground_truth(client: AsyncFHIRClient, gateway: Any) -> None:
    _, truth = gateway
    for person in _pick(truth):
        answer = await client.execute("Patient/$pdmp-history", method="post", data=history_parameters(person, truth))
        parameters = valid_parameters(orjson.dumps(answer))
        bundle = next(p["resource"] for p in parameters["parameter"] if p["name"] == "pdmp-history-data")
        dispenses = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "MedicationDispense"]
        got = sorted(d["whenPrepared"][:10] for d in dispenses)
        want = sorted(d["date_filled"] for d in person["dispensations"])
        assert got == want, person["id"]
        ndcs = sorted(
            c["code"]
            for d in dispenses
            for c in d["medicationCodeableConcept"]["coding"]
            if c["system"] == "http://hl7.org/fhir/sid/ndc"
        )
        assert ndcs == sorted(d["ndc"] for d in person["dispensations"])


async def test_medication_dispense_search_pages_through_everything(client: AsyncFHIRClient, gateway: Any) -> None:
    _, truth = gateway
    person = max(_pick(truth, 50), key=lambda p: len(p["dispensations"]))
    q = person["query"]
    search = client.resources("MedicationDispense").search(
        **{
            "subject:Patient.family": q["last_name"],
            "subject:Patient.given": q["first_name"],
            "subject:Patient.birthdate": q["birth_date"],
            "whenhandedover": [f"ge{truth['start']}", f"le{truth['end']}"],
            "_count": "3",
        }
    )
    found = await search.fetch_all()
    assert len(found) == len(person["dispensations"])
    assert len({d["id"] for d in found}) == len(found)


async def test_raw_http_errors_are_operation_outcomes(gateway: Any) -> None:
    base, _ = gateway
    async with aiohttp.ClientSession() as http:
        for body, ctype, status in (
            (b"{", "application/fhir+json", 400),
            (b"\xff\xfe", "application/fhir+json", 400),
            (b"{}", "text/xml", 415),
            (b"{" * 100_000, "application/fhir+json", 400),
        ):
            async with http.post(f"{base}/fhir/Patient/$pdmp-history", data=body, headers={"Content-Type": ctype}) as r:
                assert r.status == status
                valid_outcome(await r.read())
        async with http.post(
            f"{base}/fhir/Patient/$pdmp-history",
            data=b"x" * (10 << 20),
            headers={"Content-Type": "application/fhir+json"},
        ) as r:
            assert r.status == 413
            valid_outcome(await r.read())
        async with http.get(f"{base}/fhir/metadata") as r:
            assert r.status == 200 and r.content_type == "application/fhir+json"
        async with http.get(f"{base}/metrics") as r:
            text = await r.text()
            assert 'route="/fhir/Patient/$pdmp-history"' in text


async def test_searchset_bundle_is_valid(gateway: Any) -> None:
    base, truth = gateway
    person = _pick(truth)[0]
    q = person["query"]
    async with aiohttp.ClientSession() as http:
        params = {
            "subject:Patient.family": q["last_name"],
            "subject:Patient.birthdate": q["birth_date"],
            "whenhandedover": f"ge{truth['start']}",
        }
        async with http.get(f"{base}/fhir/MedicationDispense", params=params, headers=END_USER) as r:
            assert r.status == 200, await r.text()
            bundle = valid_bundle(await r.read())
            assert bundle["type"] == "searchset"
