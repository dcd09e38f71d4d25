"""The audit trail end to end (issue 7's demonstration): ``pmp-gateway serve --workers 2`` with authentication and
audit on answers requests of several outcomes; afterwards the trail holds exactly one record per request, outcome by
outcome (``audit usage``), the two workers' records form one chain (``audit verify``), the accounting for the person
asked about lists the disclosures, and the serve process's logs carry none of the demo patients' names or birth
dates.
"""

from __future__ import annotations

import asyncio
import copy
import json
import re
import sqlite3
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from gateway.auth import scopes
from gateway.policy.registry.identifiers import npi_check_digit
from gateway.testing import ClientKey
from tests.e2e.demo_queries import history_parameters, ncpdp_request
from tests.e2e.processes import cli_env, cli_json, running
from tests.e2e.smart_client import smart_client

READY = r"listening on http://([\d.]+):(\d+)"
NPI = "1928340565"  # the IG example 1's authorized practitioner, registered below
UNREGISTERED_NPI = "123456789" + str(npi_check_digit("123456789"))
SCOPE = f"{scopes.MEDICATION_DISPENSE_READ} {scopes.NCPDP_HISTORY}"
FHIR = {"Content-Type": "application/fhir+json"}


pytestmark = [
    pytest.mark.redis,
    pytest.mark.slow,
]


def _person(truth: dict[str, Any]) -> dict[str, Any]:
    return next(p for p in truth["people"] if 3 <= len(p["dispensations"]) <= 40)


def _with_practitioner_npi(params: dict[str, Any], npi: str) -> dict[str, Any]:
    params = copy.deepcopy(params)
    for p in params["parameter"]:
        if p["name"] == "authorized-practitioner":
            p["resource"]["identifier"] = [{"system": "http://hl7.org/fhir/sid/us-npi", "value": npi}]
    return params


def _nobody(truth: dict[str, Any]) -> dict[str, Any]:
    person = copy.deepcopy(_person(truth))
    person["query"].update(last_name="QWXZYV", first_name="ZEBEDIAH", birth_date="1901-02-03", zip="84999")
    return person


async def _requests(base: str, client_id: str, key: ClientKey, truth: dict[str, Any]) -> Counter[str]:
    """Requests of several outcomes; the outcome each must be recorded with."""
    expected: Counter[str] = Counter()
    person = _person(truth)
    async with smart_client(base, client_id, key, SCOPE) as oauth:
        history = f"{base}/fhir/Patient/$pdmp-history"
        for _ in range(2):
            r = await oauth.post(history, content=orjson.dumps(history_parameters(person, truth)), headers=FHIR)
            assert r.status_code == 200, r.text
            expected["provided"] += 1
        r = await oauth.post(
            f"{base}/ncpdp/script",
            content=ncpdp_request(person, truth, NPI),
            headers={"Content-Type": "application/xml"},
        )
        assert r.status_code == 200 and b"RxHistoryResponse" in r.content, r.text
        expected["provided"] += 1
        r = await oauth.post(history, content=orjson.dumps(history_parameters(_nobody(truth), truth)), headers=FHIR)
        assert r.status_code in (200, 404), r.text
        expected["no-data"] += 1
        unknown_user = _with_practitioner_npi(history_parameters(person, truth), UNREGISTERED_NPI)
        r = await oauth.post(history, content=orjson.dumps(unknown_user), headers=FHIR)
        assert r.status_code == 403, r.text
        expected["disallowed"] += 1
    async with httpx.AsyncClient(trust_env=False, timeout=30) as http:
        for _ in range(2):
            r = await http.post(
                f"{base}/fhir/Patient/$pdmp-history",
                content=orjson.dumps(history_parameters(person, truth)),
                headers={**FHIR, "Connection": "close"},
            )
            assert r.status_code == 401
            expected["denied"] += 1
    return expected


async def _outage(base: str, client_id: str, key: ClientKey, truth: dict[str, Any], trail: Path) -> dict[str, Any]:
    """The audit database stops taking writes (another process holds its lock): every answer is refused; once it
    is back, answers flow again and each is in the trail."""
    person = _person(truth)
    history = f"{base}/fhir/Patient/$pdmp-history"
    body = orjson.dumps(history_parameters(person, truth))
    async with smart_client(base, client_id, key, SCOPE) as oauth:
        blocker = sqlite3.connect(trail, isolation_level=None, timeout=10)
        try:
            blocker.execute("BEGIN EXCLUSIVE")
            try:
                during = await asyncio.gather(
                    *(oauth.post(history, content=body, headers=FHIR) for _ in range(3)),
                    oauth.post(
                        f"{base}/ncpdp/script",
                        content=ncpdp_request(person, truth, NPI),
                        headers={"Content-Type": "application/xml"},
                    ),
                )
            finally:
                blocker.execute("ROLLBACK")
            after_id = f"after-outage-{uuid.uuid4().hex[:8]}"
            after = await oauth.post(history, content=body, headers={**FHIR, "X-Request-ID": after_id})
        finally:
            blocker.close()
    with sqlite3.connect(trail) as db:
        recorded = db.execute("SELECT outcome, records FROM audit_record WHERE request_id = ?", (after_id,)).fetchall()
    return {
        "during": [(r.status_code, r.headers.get("content-type", ""), r.content) for r in during],
        "after": (after.status_code, after.content),
        "after_recorded": recorded,
    }


def _outcomes(trail: Path) -> dict[str, int]:
    with sqlite3.connect(trail) as db:
        rows = db.execute("SELECT outcome, COUNT(*) FROM audit_record WHERE kind = 'request' GROUP BY 1").fetchall()
    return dict(rows)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    data = tmp_path_factory.mktemp("data")
    env = cli_env(
        data,
        PMP_AUDIT="true",
        PMP_REDIS_URL="redis://127.0.0.1:6379/0",
        PMP_REDIS_PREFIX=f"test-{uuid.uuid4().hex}:",
    )
    key = ClientKey.generate(kid="ehr-key-1")
    (data / "jwks.json").write_text(json.dumps(key.jwks()))
    eds = cli_json(env, "eds", "add", "--name", "Valley EHR", "--state", "UT")["id"]
    client = cli_json(env, "clients", "add", "--eds", eds, "--jwks", str(data / "jwks.json"), "--scope", SCOPE)
    user = cli_json(
        env, "users", "add", "--role", "prescriber", "--first", "ADAM", "--last", "AMSTER", "--npi", NPI, "--eds", eds
    )
    with running("serve", "--port", "0", "--workers", "2", env=env, ready=READY) as (proc, m):
        truth = json.loads((data / "demo" / "ground-truth.json").read_text())
        base = f"http://{m.group(1)}:{m.group(2)}"
        ready = httpx.get(f"{base}/readyz", timeout=30, trust_env=False).json()
        expected = asyncio.run(_requests(base, client["client_id"], key, truth))
        # while serving: every answer's record was committed before the answer left
        usage = cli_json(env, "audit", "usage", "--format", "json", json_flag=False)
        verified = cli_json(env, "audit", "verify")
        q = _person(truth)["query"]
        accounting = cli_json(
            env, "audit", "accounting", "--last", q["last_name"], "--first", q["first_name"], "--dob", q["birth_date"]
        )
        counted = _outcomes(data / "audit.sqlite3")
        outage = asyncio.run(_outage(base, client["client_id"], key, truth, data / "audit.sqlite3"))
        outage["counted_after"] = _outcomes(data / "audit.sqlite3")
    assert proc.stderr is not None
    logs = proc.stderr.read()
    return {
        "data": data,
        "expected": expected,
        "usage": usage,
        "verified": verified,
        "accounting": accounting,
        "ready": ready,
        "counted": counted,
        "outage": outage,
        "logs": logs,
        "truth": truth,
        "user_id": user["id"],
        "eds": eds,
    }


def test_one_record_per_request_outcome_by_outcome(run: dict[str, Any]) -> None:
    expected: Counter[str] = run["expected"]
    assert run["usage"]["total"] == sum(expected.values()) == 7
    assert run["usage"]["outcomes"] == dict(expected)
    by_user = {row["key"]: row["outcomes"] for row in run["usage"]["by_user"]}
    assert by_user[run["user_id"]] == {"provided": 3, "no-data": 1}
    assert run["counted"] == dict(expected)


def test_the_audit_stage_is_on(run: dict[str, Any]) -> None:
    assert run["ready"]["stages"]["audit"] == "enabled"
    assert run["ready"]["checks"].get("audit", "ok") == "ok"


def test_the_workers_records_form_one_chain(run: dict[str, Any]) -> None:
    assert run["verified"]["ok"] is True
    assert run["verified"]["checked"] == 7


def test_the_accounting_lists_the_disclosures(run: dict[str, Any]) -> None:
    disclosures = run["accounting"]["disclosures"]
    assert [d["outcome"] for d in disclosures] == ["provided"] * 3
    assert {d["protocol"] for d in disclosures} == {"fhir", "ncpdp"}
    assert all(d["requester"] == "AMSTER, ADAM" and d["eds"] == "Valley EHR" for d in disclosures)
    assert all(d["date_range"]["start"] == run["truth"]["start"] for d in disclosures)
    assert run["accounting"]["withheld"] is False


def test_with_the_audit_store_down_every_answer_is_refused(run: dict[str, Any]) -> None:
    outage = run["outage"]
    for status, content_type, content in outage["during"][:3]:
        assert status == 503 and content_type.startswith("application/fhir+json")
        assert b"MedicationDispense" not in content and b"transient" in content
    status, content_type, content = outage["during"][3]
    assert status == 503 and b"<Error>" in content and b"MedicationDispensed" not in content
    status, content = outage["after"]
    assert status == 200 and b"MedicationDispense" in content
    assert len(outage["after_recorded"]) == 1 and outage["after_recorded"][0][0] == "provided"
    # the refused answers left no record (their batches rolled back); the one answer after the outage did
    assert outage["counted_after"] == {**run["counted"], "provided": run["counted"]["provided"] + 1}


def test_no_phi_in_the_logs(run: dict[str, Any]) -> None:
    logs: str = run["logs"]
    assert '"route"' in logs  # the access log was captured
    truth = run["truth"]
    queried = [_person(truth)["query"], _nobody(truth)["query"]]
    names = {q[k] for q in [p["query"] for p in truth["people"]] + queried for k in ("last_name", "first_name")}
    births = {q["birth_date"] for q in [p["query"] for p in truth["people"]] + queried}
    upper = logs.upper()
    leaked = sorted(n for n in names if len(n) >= 3 and re.search(rf"\b{re.escape(n.upper())}\b", upper))
    assert leaked == []
    leaked_births = sorted(b for b in births if b in logs or b.replace("-", "") in logs)
    assert leaked_births == []
