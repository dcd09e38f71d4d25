"""What a partner's answer may put in ours (security review of the outbound fan-out): only records of the person
asked, each with its own id, at most ``search_max_page_size`` per partner; a PMIX report answering another
RequestID, and a FHIR hub answering HTTP 200 with an ``error`` outcome, are failures that count against the
partner's breaker; our user reads a generic reason, never the partner's or our credentials' own error text."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web

from adapters import fhir, pmix
from gateway.budget import Deadline
from gateway.interstate.answer import PartnerAnswer, PmixStatus
from gateway.interstate.build import make_interstate
from gateway.interstate.merge import MORE_EXIST, merge
from gateway.interstate.outbound import Interstate
from gateway.interstate.partners import Partner, PartnerProtocol
from gateway.testing import settings_for_tests
from protos.pmp.v1 import pmp_pb2 as pb
from tests.adapters.fhir.fhir_test_data import history_bundle, valid_parameters
from tests.adapters.pmix.pmix_test_data import found, query
from tests.gateway.interstate.partner_helpers import (
    ASKED_BIRTH_DATE,
    ASKED_NAME,
    OWN_STATE,
    MemoryDirectory,
    fill,
    key_file,
    make_partner,
)

ASKED = pb.PatientQuery(name=ASKED_NAME, birth_date=ASKED_BIRTH_DATE)
NOBODY_HERE = pb.SearchHistoryResponse(match_status=pb.MATCH_STATUS_NOT_FOUND)


def merged(
    *answers: PartnerAnswer,
    ours: pb.SearchHistoryResponse = NOBODY_HERE,
    asked: pb.PatientQuery = ASKED,
    cap: int = 500,
) -> pb.SearchHistoryResponse:
    response = pb.SearchHistoryResponse()
    response.CopyFrom(ours)
    merge(response, answers, own_state=OWN_STATE, query=asked, max_records=cap)
    return response


def complete(state: str, *records: pb.Dispensation) -> PartnerAnswer:
    return PartnerAnswer(state, PmixStatus.COMPLETE, records)


# --- whose records -------------------------------------------------------------------------------------------------


def test_another_persons_records_are_withheld_and_counted() -> None:
    response = merged(
        complete(
            "NM",
            fill("NM-1", "2026-03-01", family="DOE"),
            fill("NM-2", "2026-03-02", birth_date="1955-07-07"),
            pb.Dispensation(rx_number="NM-3", date_filled="2026-03-03"),  # no demographics: cannot be checked
        )
    )
    assert response.match_status == pb.MATCH_STATUS_NOT_FOUND and not response.dispensations
    assert [(s.state, s.status, s.detail, s.dispensations) for s in response.sources] == [
        ("UT", "no-data", "", 0),
        ("NM", "no-data", "3 records for another person withheld", 0),
    ]


def test_the_asked_persons_records_are_kept_however_the_name_is_spelled() -> None:
    kept = [fill("NM-1", "2026-03-01", family="Smith"), fill("NM-2", "2026-03-02", family="Smíth ")]
    response = merged(complete("NM", *kept, fill("NM-3", "2026-03-03", family="SMYTHE")))
    assert response.match_status == pb.MATCH_STATUS_FOUND
    assert [d.rx_number for d in response.dispensations] == ["NM-2", "NM-1"]
    assert [(s.status, s.detail, s.dispensations) for s in response.sources[1:]] == [
        ("complete", "1 record for another person withheld", 2)
    ]


def test_a_query_by_patient_id_is_checked_against_the_person_we_matched() -> None:
    ours = pb.SearchHistoryResponse(
        match_status=pb.MATCH_STATUS_FOUND,
        patients=[pb.MatchedPatient(id="42", name=ASKED_NAME, birth_date=ASKED_BIRTH_DATE)],
    )
    by_id = pb.PatientQuery(patient_id="42")
    response = merged(
        complete("NM", fill("NM-1", "2026-03-01"), fill("NM-2", "2026-03-02", family="DOE")), ours=ours, asked=by_id
    )
    assert [d.rx_number for d in response.dispensations] == ["NM-1"]
    # nobody to check against: nothing of the partner's is shown
    nobody = merged(complete("NM", fill("NM-1", "2026-03-01")), asked=by_id)
    assert not nobody.dispensations and nobody.sources[1].detail == "1 record for another person withheld"


# --- ids and the cap -----------------------------------------------------------------------------------------------


def pmix_like(rx: str, day: str) -> pb.Dispensation:
    record = fill(rx, day)
    record.id = ""  # adapters.pmix.decode_report gives none
    return record


def test_partner_records_get_stable_ids_unique_in_the_answer() -> None:
    ours = pb.SearchHistoryResponse(
        match_status=pb.MATCH_STATUS_FOUND,
        patients=[pb.MatchedPatient(id="42", name=ASKED_NAME, birth_date=ASKED_BIRTH_DATE)],
        dispensations=[fill("UT-1", "2026-05-01", OWN_STATE)],
        total_dispensations=1,
    )

    def answers() -> tuple[PartnerAnswer, ...]:
        twins = [pmix_like("NM-1", "2026-03-01"), pmix_like("NM-1", "2026-03-01")]  # the same fill reported twice
        return complete("NM", *twins, pmix_like("NM-2", "2026-02-01")), complete("CO", fill("UT-1", "2026-04-01"))

    response = merged(*answers(), ours=ours)
    ids = [d.id for d in response.dispensations]
    assert len(set(ids)) == len(ids) == 5 and all(ids)
    assert [d.id for d in merged(*answers(), ours=ours).dispensations] == ids  # stable
    body = fhir.encode_pdmp_history(
        response,
        request=pb.SearchHistoryRequest(patient=ASKED),
        patient_id="42",
        source="http://ut/fhir",
        now=datetime.now(UTC),
    )
    parameters = valid_parameters(body)
    bundle = history_bundle(parameters)
    urls = Counter(e["fullUrl"] for e in bundle["entry"])
    assert not [u for u, n in urls.items() if n > 1]
    assert sum(1 for e in bundle["entry"] if e["resource"]["resourceType"] == "MedicationDispense") == 5


def test_a_partners_records_are_capped_newest_first() -> None:
    records = [fill(f"NM-{day}", f"2026-03-{day:02d}") for day in range(1, 8)]
    response = merged(complete("NM", *records), cap=3)
    assert [d.rx_number for d in response.dispensations] == ["NM-7", "NM-6", "NM-5"]
    assert (response.sources[1].dispensations, response.sources[1].detail) == (3, MORE_EXIST)
    assert response.total_dispensations == 3


# --- answers that are no answer ------------------------------------------------------------------------------------


async def partner_hub(aiohttp_server: Any, answer: web.Response | None = None, *, path: str) -> tuple[str, list[int]]:
    """A partner hub that grants any token and answers every query with ``answer``; the calls it got."""
    calls: list[int] = []

    async def token(_: web.Request) -> web.Response:
        return web.json_response({"access_token": "t", "token_type": "Bearer", "expires_in": 300})

    async def history(_: web.Request) -> web.Response:
        calls.append(1)
        assert answer is not None
        return answer

    app = web.Application()
    app.router.add_post("/oauth/token", token)
    app.router.add_post(path, history)
    server = await aiohttp_server(app)
    return f"http://127.0.0.1:{server.port}", calls


def ours(tmp_path: Path, partner: Partner) -> Interstate:
    interstate = make_interstate(
        settings_for_tests(tmp_path, state_code=OWN_STATE, interstate_breaker_failures=2), MemoryDirectory([partner])
    )
    interstate.clients.open()
    return interstate


REQUEST = pb.SearchHistoryRequest(
    patient=ASKED, requester=pb.Requester(role=pb.ROLE_PRESCRIBER, practitioner=pb.Practitioner(npi="1234567893"))
)


async def test_a_pmix_report_for_another_request_id_fails_that_partner(aiohttp_server: Any, tmp_path: Path) -> None:
    report = pmix.encode_report(
        found(2), query=query(request_id="SOMEONE-ELSES-QUERY"), disclosing_state="NM", now=datetime.now(UTC)
    )
    base, calls = await partner_hub(
        aiohttp_server, web.Response(body=report, content_type="application/xml"), path="/pmix"
    )
    partner = make_partner(
        "NM",
        key_file(tmp_path),
        endpoint=f"{base}/pmix",
        token_url=f"{base}/oauth/token",
        protocol=PartnerProtocol.PMIX,
    )
    interstate = ours(tmp_path, partner)
    try:
        answer = await interstate.ask(partner, REQUEST, Deadline.after(5))
        assert (answer.status, answer.dispensations, answer.detail) == (PmixStatus.ERROR, (), "unavailable")
        assert calls == [1]
    finally:
        await interstate.clients.aclose()


FHIR_ERROR = {
    "resourceType": "Parameters",
    "parameter": [
        {
            "name": "outcome",
            "resource": {
                "resourceType": "OperationOutcome",
                "issue": [
                    {
                        "severity": "error",
                        "code": "exception",
                        "details": {
                            "coding": [
                                {"system": "http://hl7.org/fhir/us/pdmp/CodeSystem/pmix-status-code", "code": "error"}
                            ]
                        },
                    }
                ],
            },
        }
    ],
}


@pytest.mark.parametrize("body", [FHIR_ERROR, {"resourceType": "Parameters"}])
async def test_a_fhir_hub_answering_200_with_an_error_opens_its_breaker(
    aiohttp_server: Any, tmp_path: Path, body: dict[str, Any]
) -> None:
    answer = web.Response(body=orjson.dumps(body), content_type="application/fhir+json")
    base, calls = await partner_hub(aiohttp_server, answer, path="/fhir/Patient/$pdmp-history")
    partner = make_partner("CO", key_file(tmp_path), endpoint=f"{base}/fhir", token_url=f"{base}/oauth/token")
    interstate = ours(tmp_path, partner)
    try:
        for _ in range(4):
            assert (await interstate.ask(partner, REQUEST, Deadline.after(5))).status is PmixStatus.ERROR
        assert len(calls) == 2  # failures=2 opened the circuit: the hub is not called again during the cool-down
        assert interstate.breaker("CO").state.value == "open"
    finally:
        await interstate.clients.aclose()


async def test_our_own_credential_trouble_is_not_told_to_the_user(
    aiohttp_server: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    base, calls = await partner_hub(aiohttp_server, path="/fhir/Patient/$pdmp-history")
    partner = make_partner(
        "CO", tmp_path / "missing-key.json", endpoint=f"{base}/fhir", token_url=f"{base}/oauth/token"
    )
    interstate = ours(tmp_path, partner)
    try:
        answer = await interstate.ask(partner, REQUEST, Deadline.after(5))
        assert (answer.status, answer.detail) == (PmixStatus.ERROR, "unavailable")
        failures = [r for r in caplog.records if r.getMessage() == "partner call failed"]
        assert [getattr(r, "detail", "") for r in failures] == ["our client key file cannot be read"]
        assert not calls
    finally:
        await interstate.clients.aclose()
