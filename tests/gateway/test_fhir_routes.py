"""The FHIR routes over a real aiohttp server with a fake pmpdb (the SearchBackend seam): status codes,
content negotiation, errors as OperationOutcome, paging, and the pipeline's refusals in FHIR terms.
Every FHIR body these tests see is validated with fhir.resources (R4B)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient

from gateway.app import create_app
from gateway.cursor import load_or_create_key
from gateway.testing import TEST_ISSUER, FakeSearchBackend, settings_for_tests
from protos.errors import PmpError
from protos.pmp.v1 import pmp_pb2 as pb
from tests.adapters.fhir.fhir_test_data import (
    EX1,
    EX2,
    EX4,
    example_bytes,
    found,
    history_bundle,
    outcome_of,
    resources_of,
    valid_bundle,
    valid_outcome,
    valid_parameters,
)

FHIR = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}
END_USER = {"X-PMP-End-User": "role=prescriber; npi=1234567893"}


@pytest.fixture
def backend() -> FakeSearchBackend:
    return FakeSearchBackend(found(25))


@pytest.fixture
async def client(aiohttp_client: Any, backend: FakeSearchBackend, tmp_path: Path) -> TestClient:
    settings = settings_for_tests(
        tmp_path, request_budget_seconds=0.5, max_body_bytes=64 * 1024, authenticate=False, identify=False
    )  # FHIR behaviour only: tests/gateway/test_auth_routes.py runs the same routes with tokens and the registry
    app = create_app(settings, "", cursor_key=load_or_create_key(tmp_path), issuer=TEST_ISSUER, backend=backend)
    return await aiohttp_client(app)  # type: ignore[no-any-return]


async def _outcome(response: Any, status: int) -> dict[str, Any]:
    assert response.status == status, await response.text()
    assert response.content_type == "application/fhir+json"
    return valid_outcome(await response.read())


@pytest.mark.parametrize("path", ["/fhir/Patient/$pdmp-history", "/fhir/$pdmp-history"])
@pytest.mark.parametrize("example", [EX1, EX2, EX4])
async def test_ig_examples_get_a_history(
    client: TestClient, backend: FakeSearchBackend, path: str, example: str
) -> None:
    response = await client.post(path, data=example_bytes(example), headers=FHIR)
    assert response.status == 200, await response.text()
    parameters = valid_parameters(await response.read())
    bundle = history_bundle(parameters)
    assert len(resources_of(bundle, "MedicationDispense")) == 25
    assert outcome_of(parameters)
    sent, time_left = backend.calls[0]
    assert 0 < time_left <= 0.5
    assert sent.request_id == response.headers["X-Request-ID"]


async def test_no_match_is_no_data_and_ambiguous_is_deferred_without_candidates(
    client: TestClient, backend: FakeSearchBackend
) -> None:
    backend.answer = pb.SearchHistoryResponse(match_status=pb.MATCH_STATUS_NOT_FOUND)
    response = await client.post("/fhir/Patient/$pdmp-history", data=example_bytes(EX1), headers=FHIR)
    assert "no-data" in orjson.dumps(outcome_of(valid_parameters(await response.read()))).decode()
    backend.answer = pb.SearchHistoryResponse(
        match_status=pb.MATCH_STATUS_AMBIGUOUS,
        patients=[pb.MatchedPatient(id="1", name=pb.HumanName(family="SECRETNAME"))],
    )
    response = await client.post("/fhir/Patient/$pdmp-history", data=example_bytes(EX1), headers=FHIR)
    body = await response.read()
    assert "deferred" in body.decode()
    assert b"SECRETNAME" not in body
    valid_parameters(body)


@pytest.mark.parametrize(
    ("body", "headers", "status"),
    [
        (b"{not json", FHIR, 400),
        (b'{"resourceType": "Patient"}', FHIR, 400),
        (b"\xff\xfe\x00garbage", FHIR, 400),
        (b"[" * 5000 + b"]" * 5000, FHIR, 400),
        (example_bytes(EX1), {**FHIR, "Content-Type": "text/plain"}, 415),
        (example_bytes(EX1), {**FHIR, "Accept": "application/fhir+xml"}, 406),
        (b"{" + b" " * (70 * 1024) + b"}", FHIR, 413),
    ],
    ids=["malformed", "wrong-resource", "invalid-utf8", "deep-nesting", "content-type", "accept", "too-large"],
)
async def test_bad_requests_get_operation_outcomes(
    client: TestClient, backend: FakeSearchBackend, body: bytes, headers: dict[str, str], status: int
) -> None:
    response = await client.post("/fhir/Patient/$pdmp-history", data=body, headers=headers)
    await _outcome(response, status)
    assert not backend.calls


async def test_a_ten_megabyte_body_is_refused_without_reading_it_all(client: TestClient) -> None:
    response = await client.post("/fhir/Patient/$pdmp-history", data=b"x" * (10 * 1024 * 1024), headers=FHIR)
    await _outcome(response, 413)


async def test_pipeline_refusal_is_forbidden(client: TestClient) -> None:
    body = orjson.loads(example_bytes(EX1))
    for p in body["parameter"]:
        if p["name"] == "authorized-practitioner":
            p["resource"]["identifier"] = []
    response = await client.post("/fhir/Patient/$pdmp-history", data=orjson.dumps(body), headers=FHIR)
    outcome = await _outcome(response, 403)
    assert outcome["issue"][0]["code"] == "forbidden"


@pytest.mark.parametrize(
    ("error", "status", "issue_code"),
    [
        (PmpError(pb.ERROR_CODE_BACKEND_UNAVAILABLE, "down", retry_after=1), 503, "transient"),
        (PmpError(pb.ERROR_CODE_TIMEOUT, "slow"), 504, "timeout"),
        (PmpError(pb.ERROR_CODE_INVALID_REQUEST, "bad"), 400, None),
    ],
)
async def test_backend_errors_in_fhir_terms(
    client: TestClient, backend: FakeSearchBackend, error: PmpError, status: int, issue_code: str | None
) -> None:
    backend.answer = error
    response = await client.post("/fhir/Patient/$pdmp-history", data=example_bytes(EX1), headers=FHIR)
    outcome = await _outcome(response, status)
    if issue_code:
        assert outcome["issue"][0]["code"] == issue_code
    if error.retry_after:
        assert response.headers["Retry-After"] == "1"


async def test_a_slow_backend_is_a_504_within_the_budget(client: TestClient, backend: FakeSearchBackend) -> None:
    backend.delay = 5.0
    started = asyncio.get_running_loop().time()
    response = await client.post("/fhir/Patient/$pdmp-history", data=example_bytes(EX1), headers=FHIR)
    await _outcome(response, 504)
    assert asyncio.get_running_loop().time() - started < 2.0


async def test_search_pages_with_an_opaque_cursor(client: TestClient, backend: FakeSearchBackend) -> None:
    first = found(25)
    first.next_page_token = "page-2"
    backend.answer = first
    params = {"subject:Patient.family": "Samuels", "subject:Patient.birthdate": "1989-03-12", "_count": "25"}
    response = await client.get(
        "/fhir/MedicationDispense", params=params, headers={"Accept": "application/fhir+json", **END_USER}
    )
    assert response.status == 200, await response.text()
    bundle = valid_bundle(await response.read())
    assert bundle["type"] == "searchset"
    next_link = next(link["url"] for link in bundle["link"] if link["relation"] == "next")
    assert "Samuels" not in next_link and "1989" not in next_link  # the cursor hides the query
    backend.answer = found(3)
    next_path = "/" + next_link.split("://", 1)[1].split("/", 1)[1]
    # the cursor carries no requester: the next page is asked by whoever asks, with their own identity
    await _outcome(await client.get(next_path), 403)
    other_user = {"X-PMP-End-User": "role=pharmacist; npi=1003000126"}
    response = await client.get(next_path, headers=other_user)
    assert response.status == 200, await response.text()
    (second_request, _) = backend.calls[-1]
    assert second_request.page_token == "page-2"
    assert second_request.patient.name.family == "Samuels"
    assert second_request.requester.role == pb.ROLE_PHARMACIST
    tampered = next_path[:-5] + ("AAAAA" if not next_path.endswith("AAAAA") else "BBBBB")
    await _outcome(await client.get(tampered, headers=END_USER), 400)


async def test_patient_ids_are_signed_and_expire(client: TestClient, backend: FakeSearchBackend) -> None:
    response = await client.post("/fhir/Patient/$pdmp-history", data=example_bytes(EX1), headers=FHIR)
    bundle = history_bundle(valid_parameters(await response.read()))
    patient_id = resources_of(bundle, "Patient")[0]["id"]
    assert len(patient_id) <= 64
    ok = await client.get("/fhir/MedicationDispense", params={"patient": patient_id}, headers=END_USER)
    assert ok.status == 200, await ok.text()
    (sent, _) = backend.calls[-1]
    assert sent.patient.patient_id == found().patients[0].id
    forged = patient_id[:-1] + ("0" if patient_id[-1] != "0" else "1")
    await _outcome(await client.get("/fhir/MedicationDispense", params={"patient": forged}, headers=END_USER), 400)
    await _outcome(await client.get("/fhir/MedicationDispense", params={"patient": "12345"}, headers=END_USER), 400)


async def test_a_status_other_than_completed_matches_nothing(client: TestClient) -> None:
    params = {"subject:Patient.family": "Samuels", "subject:Patient.birthdate": "1989-03-12", "status": "cancelled"}
    response = await client.get("/fhir/MedicationDispense", params=params, headers=END_USER)
    bundle = valid_bundle(await response.read())
    assert bundle["total"] == 0
    assert not [e for e in bundle.get("entry", []) if e["resource"]["resourceType"] == "MedicationDispense"]


async def test_method_not_allowed_says_which_are(client: TestClient) -> None:
    response = await client.put("/fhir/metadata")
    await _outcome(response, 405)
    assert "GET" in response.headers["Allow"]


async def test_a_non_ascii_end_user_header_is_a_400(client: TestClient) -> None:
    params = {"subject:Patient.family": "Samuels", "subject:Patient.birthdate": "1989-03-12"}
    response = await client.get(
        "/fhir/MedicationDispense", params=params, headers={"X-PMP-End-User": "role=prescriber; npi=12\u00e934"}
    )
    await _outcome(response, 400)


async def test_unknown_search_parameter_strict_and_lenient(client: TestClient) -> None:
    params = {"subject:Patient.family": "Samuels", "subject:Patient.birthdate": "1989-03-12", "colour": "blue"}
    strict = await client.get(
        "/fhir/MedicationDispense", params=params, headers={"Prefer": "handling=strict", **END_USER}
    )
    await _outcome(strict, 400)
    lenient = await client.get("/fhir/MedicationDispense", params=params, headers=END_USER)
    assert lenient.status == 200
    assert "colour" in (await lenient.read()).decode()


async def test_metadata_and_operation_definition(client: TestClient) -> None:
    response = await client.get("/fhir/metadata")
    assert response.status == 200
    from fhir.resources.R4B.capabilitystatement import CapabilityStatement
    from fhir.resources.R4B.operationdefinition import OperationDefinition

    CapabilityStatement.model_validate(orjson.loads(await response.read()))
    response = await client.get("/fhir/OperationDefinition/pdmp-history")
    OperationDefinition.model_validate(orjson.loads(await response.read()))


async def test_unknown_fhir_path_is_an_operation_outcome(client: TestClient) -> None:
    response = await client.get("/fhir/Nothing/here")
    await _outcome(response, 404)


async def test_readyz_lists_disabled_stages_and_metrics_count_requests(client: TestClient) -> None:
    await client.post("/fhir/Patient/$pdmp-history", data=example_bytes(EX1), headers=FHIR)
    ready = await (await client.get("/readyz")).json()
    assert ready["stages"]["authenticate"] == "disabled: turned off in settings (PMP_AUTHENTICATE=false)"
    assert ready["stages"]["audit"] == "enabled" and ready["checks"]["audit"] == "ok"
    metrics = await (await client.get("/metrics")).text()
    assert 'pmp_gateway_requests_total{outcome="ok",route="/fhir/Patient/$pdmp-history"}' in metrics
    assert "pmp_gateway_in_flight_requests" in metrics


async def test_search_without_an_end_user_is_forbidden(client: TestClient, backend: FakeSearchBackend) -> None:
    params = {"subject:Patient.family": "Samuels", "subject:Patient.birthdate": "1989-03-12"}
    response = await client.get("/fhir/MedicationDispense", params=params)
    await _outcome(response, 403)
    bad = await client.get("/fhir/MedicationDispense", params=params, headers={"X-PMP-End-User": "role=wizard"})
    await _outcome(bad, 400)
    assert not backend.calls
