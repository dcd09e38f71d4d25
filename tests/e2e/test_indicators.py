"""Clinical indicators end to end: ``pmp-gateway serve`` on demo data; each demo person crafted to trip an alert
(``pmpdb.demo.scenarios``, recorded in ground-truth.json) shows exactly that alert in the FHIR ``$pdmp-history``
Bundle (a DetectedIssue, valid R4B), on a MedicationDispense search's first page, and in the NCPDP answer's
``Approved/Note`` in both SCRIPT versions (schema-valid); the MME person's fills carry ``pdmp-extension-mme``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
from lxml import etree

from adapters import ncpdp
from pmpdb.demo.names import fold_diacritics
from tests.adapters.fhir.fhir_test_data import resources_of, valid_bundle, valid_parameters
from tests.adapters.ncpdp.ncpdp_test_data import Person, Request, build
from tests.e2e.demo_queries import history_parameters
from tests.e2e.processes import NO_AUTH, cli_env, running

READY = r"listening on http://([\d.]+):(\d+)"
END_USER = {"X-PMP-End-User": "role=prescriber; npi=1234567893"}
MME_EXTENSION = "http://hl7.org/fhir/us/pdmp/StructureDefinition/pdmp-extension-mme"
PMIX_ALERT = "http://terminology.hl7.org/CodeSystem/PMIXPatientAlertCatCode"
NOTE_MARK = {"05": "!MME ", "03": "!MPE ", "04": "!OPI+BZD "}
NS = {"s": ncpdp.NS}


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, Any]]]:
    data = tmp_path_factory.mktemp("data")
    with running("serve", "--port", "0", env=cli_env(data, **NO_AUTH), ready=READY) as (_, m):
        truth = json.loads((data / "demo" / "ground-truth.json").read_text())
        yield f"http://{m.group(1)}:{m.group(2)}", truth


def _crafted(truth: dict[str, Any]) -> list[dict[str, Any]]:
    people = [p for p in truth["people"] if p.get("scenario")]
    assert {p["scenario"] for p in people} == {"mme", "mpe", "opioid-benzodiazepine"}
    return people


async def test_fhir_history_shows_each_crafted_alert(gateway: tuple[str, dict[str, Any]]) -> None:
    base, truth = gateway
    async with aiohttp.ClientSession() as http:
        for person in _crafted(truth):
            async with http.post(
                f"{base}/fhir/Patient/$pdmp-history",
                json=history_parameters(person, truth),
                headers={"Content-Type": "application/fhir+json"},
            ) as r:
                assert r.status == 200, await r.text()
                parameters = valid_parameters(await r.read())
            bundle = next(p["resource"] for p in parameters["parameter"] if p["name"] == "pdmp-history-data")
            issues = resources_of(bundle, "DetectedIssue")
            codes = [c["code"] for i in issues for c in i["code"]["coding"] if c["system"] == PMIX_ALERT]
            assert codes == person["expected_alerts"], person["scenario"]
            patient_url = bundle["entry"][0]["fullUrl"]
            assert all(i["status"] == "final" and i["patient"]["reference"] == patient_url for i in issues)


async def test_fhir_dispenses_carry_mme(gateway: tuple[str, dict[str, Any]]) -> None:
    base, truth = gateway
    person = next(p for p in _crafted(truth) if p["scenario"] == "mme")
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{base}/fhir/Patient/$pdmp-history",
            json=history_parameters(person, truth),
            headers={"Content-Type": "application/fhir+json"},
        ) as r,
    ):
        parameters = valid_parameters(await r.read())
    bundle = next(p["resource"] for p in parameters["parameter"] if p["name"] == "pdmp-history-data")
    values = [
        e["valueDecimal"]
        for d in resources_of(bundle, "MedicationDispense")
        for e in d.get("extension", [])
        if e["url"] == MME_EXTENSION
    ]
    assert values == [person["expected_peak_mme"]] * len(person["dispensations"])


async def test_search_first_page_includes_the_alerts(gateway: tuple[str, dict[str, Any]]) -> None:
    base, truth = gateway
    person = next(p for p in _crafted(truth) if p["scenario"] == "mpe")
    q = person["query"]
    params = {
        "subject:Patient.family": q["last_name"],
        "subject:Patient.birthdate": q["birth_date"],
        "subject:Patient.given": q["first_name"],
        "whenhandedover": f"ge{truth['start']}",
        "_count": "2",
    }
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{base}/fhir/MedicationDispense", params=params, headers=END_USER) as r,
    ):
        assert r.status == 200, await r.text()
        bundle = valid_bundle(await r.read())
    issues = [e for e in bundle["entry"] if e["resource"]["resourceType"] == "DetectedIssue"]
    assert [e["search"]["mode"] for e in issues] == ["include"]
    assert issues[0]["resource"]["code"]["coding"][0]["code"] == "03"


@pytest.mark.parametrize("version", ["2017071", "10.6"])
async def test_ncpdp_note_shows_each_crafted_alert(gateway: tuple[str, dict[str, Any]], version: str) -> None:
    base, truth = gateway
    async with aiohttp.ClientSession() as http:
        for person in _crafted(truth):
            q = person["query"]
            fold = fold_diacritics if version == "10.6" else str  # 10.6 text is ASCII only
            request = Request(
                version=version,  # type: ignore[arg-type]
                message_id=f"e2e-{person['id']}",
                patient=Person(
                    last=fold(q["last_name"]),
                    first=fold(q["first_name"]),
                    birth=q["birth_date"],
                    gender=q["gender"],
                    postal=q["zip"],
                ),
                start=truth["start"],
                end=truth["end"],
            )
            async with http.post(
                f"{base}/ncpdp/script", data=build(request), headers={"Content-Type": "application/xml"}
            ) as r:
                assert r.status == 200, await r.text()
                body = await r.read()
            assert ncpdp.validate(body, version) == []  # type: ignore[arg-type]
            root = etree.fromstring(body)
            note = root.findtext("s:Body/s:RxHistoryResponse/s:Response/s:Approved/s:Note", namespaces=NS) or ""
            marked = [code for code, mark in NOTE_MARK.items() if note.startswith(mark) or f"; {mark}" in note]
            assert sorted(marked) == sorted(person["expected_alerts"]), (person["scenario"], note)
            assert len(note) <= 70
