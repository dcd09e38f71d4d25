"""Three states end to end (issue 9's demonstration): three ``pmp-gateway serve`` processes on loopback as Utah (A),
Colorado (B) and New Mexico (C), each with its own pharmacies' fills for the same person, each registered as a
partner at the others with the CLI (``partners add`` + ``clients add``); A asks B over FHIR and C over PMIX.

* a FHIR query at A returns A's, B's and C's dispensations merged, each state's records under its own
  ``meta.source``; the NCPDP answer names the state PMP on every ``MedicationDispensed``;
* C stops (SIGSTOP: it accepts connections but answers nothing) → A answers within its budget with A + B and the
  IG's partial-result warning naming NM; after two timeouts C's circuit opens and A no longer calls it (its part
  says "circuit open"; A's metrics count the calls it skipped);
* C resumes → after the cool-down A's probe finds it and the answers are whole again;
* A's audit record of a merged answer counts every state's records and says what each state gave.

Answer times are printed (``-s``), not asserted: the machine is shared.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import unused_port
from fhirpy import AsyncFHIRClient
from lxml import etree

from adapters import ncpdp
from adapters.asap.writer import format_asap
from gateway.auth import scopes
from gateway.testing import ClientKey
from tests.adapters.fhir.fhir_test_data import history_bundle, outcome_of, resources_of, valid_parameters
from tests.asap_files import PHARMACY, asap_file, fill, patient, replace
from tests.e2e.demo_queries import history_parameters, ncpdp_request
from tests.e2e.processes import cli_env, cli_json, running
from tests.e2e.smart_client import smart_client

READY = r"listening on http://([\d.]+):(\d+)"
NPI = "1928340565"  # the IG example 1's authorized practitioner: A's registered prescriber
EHR_SCOPE = f"{scopes.MEDICATION_DISPENSE_READ} {scopes.NCPDP_HISTORY}"
PRESCRIBER_TAXONOMY = "208D00000X"  # what A tells partners its prescribers are (gateway.interstate.taxonomy)
PARTNER_TIMEOUT = 1.5
COOLDOWN = 2.0
NS = {"s": "http://www.ncpdp.org/schema/SCRIPT"}
STATES = ("UT", "CO", "NM")
PROTOCOL = {"CO": "fhir", "NM": "pmix"}  # how A asks each partner
PERSON = {"last_name": "SMITH", "first_name": "JOHN", "birth_date": "1980-02-03", "gender": "M", "zip": "84101"}


@dataclass
class State:
    code: str
    port: int
    data: Path
    env: dict[str, str]
    key: ClientKey  # this state's hub key: its client assertions at the others
    fills: list[str]  # the Rx numbers of its fills of the person
    proc: subprocess.Popen[str] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def key_file(self) -> Path:
        return self.data / "hub-key.json"

    @property
    def jwks_file(self) -> Path:
        return self.data / "hub-jwks.json"


def _cli(state: State, *args: str) -> Any:
    return cli_json(state.env, *args, timeout=120)


def _parallel(*calls: Any) -> list[Any]:
    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(lambda call: call(), calls))


def _state(code: str, index: int, tmp: Path) -> State:
    data = tmp / code.lower()
    data.mkdir()
    env = cli_env(
        data,
        PMP_STATE_CODE=code,
        PMP_INTERSTATE_BREAKER_FAILURES="2",
        PMP_INTERSTATE_BREAKER_COOLDOWN_SECONDS=str(COOLDOWN),
    )
    state = State(code, unused_port(), data, env, ClientKey.generate(kid=f"{code.lower()}-hub-1"), [])
    state.key_file.write_text(json.dumps(state.key.private_jwk()))
    state.key_file.chmod(0o600)
    state.jwks_file.write_text(json.dumps(state.key.jwks()))
    # this state's pharmacy filled the person twice: different Rx numbers, dates and pharmacy in each state
    pharmacy = replace(PHARMACY, ncpdp=f"445566{index}", name=f"{code} MAIN STREET PHARMACY", state=code)
    person = patient(dob=PERSON["birth_date"].replace("-", ""), zip_code=PERSON["zip"])
    days = [date.today() - timedelta(days=10 + 30 * index + 7 * n) for n in range(2)]
    state.fills = [f"{code}-RX-{n}" for n in range(2)]
    fills = [(person, fill(rx, day.strftime("%Y%m%d"))) for rx, day in zip(state.fills, days, strict=True)]
    asap = data / f"{code.lower()}.asap"
    asap.write_text(format_asap(asap_file([(pharmacy, fills)], control=f"90{index}")))
    return state


@pytest.fixture(scope="module")
def states(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, State]]:
    tmp = tmp_path_factory.mktemp("interstate")
    ut, co, nm = (_state(code, i, tmp) for i, code in enumerate(STATES))
    by_code = {s.code: s for s in (ut, co, nm)}
    for s in by_code.values():
        _cli(s, "ingest", str(s.data / f"{s.code.lower()}.asap"))

    def register_partner(at: State, other: State, **outbound: str) -> str:
        args = ["partners", "add", other.code, "--name", f"{other.code} PMP", "--taxonomy", PRESCRIBER_TAXONOMY]
        args += ["--require", "family", "--require", "birth_date"]
        for flag, value in outbound.items():
            args += [f"--{flag.replace('_', '-')}", value]
        return str(_cli(at, *args)["eds_id"])

    # B and C know A (and each other); A's hub becomes an OAuth client at B and at C
    eds_at_co, eds_at_nm, *_ = _parallel(
        lambda: register_partner(co, ut),
        lambda: register_partner(nm, ut),
        lambda: register_partner(co, nm),
        lambda: register_partner(nm, co),
    )
    client_at_co, client_at_nm = _parallel(
        lambda: _cli(
            co, "clients", "add", "--eds", eds_at_co, "--jwks", str(ut.jwks_file), "--scope", "pmp/interstate"
        ),
        lambda: _cli(
            nm, "clients", "add", "--eds", eds_at_nm, "--jwks", str(ut.jwks_file), "--scope", "pmp/interstate"
        ),
    )
    for partner, client in ((co, client_at_co), (nm, client_at_nm)):  # A asks both for its prescribers' queries
        endpoint = f"{partner.base}/fhir" if PROTOCOL[partner.code] == "fhir" else f"{partner.base}/interstate/pmix"
        register_partner(
            ut,
            partner,
            endpoint=endpoint,
            protocol=PROTOCOL[partner.code],
            token_url=f"{partner.base}/oauth/token",
            client_id=client["client_id"],
            key_file=str(ut.key_file),
            timeout=str(PARTNER_TIMEOUT),
            default_for="ROLE_PRESCRIBER",
        )
    # A's own EHR and prescriber
    ehr_key = ClientKey.generate(kid="ehr-key-1")
    (ut.data / "ehr-jwks.json").write_text(json.dumps(ehr_key.jwks()))
    eds = _cli(ut, "eds", "add", "--name", "Valley EHR", "--agreement", "DUA-1", "--state", "UT")["id"]
    ehr = _cli(ut, "clients", "add", "--eds", eds, "--jwks", str(ut.data / "ehr-jwks.json"), "--scope", EHR_SCOPE)
    _cli(ut, "users", "add", "--role", "prescriber", "--first", "ADAM", "--last", "AMSTER", "--npi", NPI, "--eds", eds)
    (ut.data / "ehr.json").write_text(json.dumps({"client_id": ehr["client_id"], "key": ehr_key.private_jwk()}))
    with ExitStack() as stack:
        for s in by_code.values():
            proc, _ = stack.enter_context(running("serve", "--port", str(s.port), "--no-demo", env=s.env, ready=READY))
            s.proc = proc
        yield by_code
        for s in by_code.values():  # never leave a stopped process behind
            if s.proc is not None and s.proc.poll() is None:
                os.kill(s.proc.pid, signal.SIGCONT)


@pytest.fixture
async def oauth(states: dict[str, State]) -> Any:
    ut = states["UT"]
    ehr = json.loads((ut.data / "ehr.json").read_text())
    async with smart_client(ut.base, ehr["client_id"], ClientKey.from_private_jwk(ehr["key"]), EHR_SCOPE) as client:
        yield client


def _window() -> dict[str, str]:
    today = date.today()
    return {"start": (today - timedelta(days=365)).isoformat(), "end": today.isoformat()}


async def _fhir_query(oauth: Any, ut: State, *states: str) -> tuple[dict[str, Any], float]:
    """One ``$pdmp-history`` at A through fhirpy (``pdmp-states`` when ``states`` are named); the answer's time."""
    token = oauth.token["access_token"]
    client = AsyncFHIRClient(f"{ut.base}/fhir", authorization=f"Bearer {token}")
    parameters = history_parameters({"query": PERSON}, _window())
    parameters["parameter"].extend({"name": "pdmp-states", "valueCode": s} for s in states)
    started = time.perf_counter()
    answer = await client.execute("Patient/$pdmp-history", method="post", data=parameters)
    elapsed = time.perf_counter() - started
    return valid_parameters(orjson.dumps(answer)), elapsed


def _by_source(parameters: dict[str, Any]) -> dict[str, list[str]]:
    """Rx numbers of the MedicationDispense entries, by ``meta.source``."""
    found: dict[str, list[str]] = {}
    urls = [entry["fullUrl"] for entry in history_bundle(parameters)["entry"]]
    assert len(urls) == len(set(urls)), "every entry has its own fullUrl"
    for resource in resources_of(history_bundle(parameters), "MedicationDispense"):
        found.setdefault(resource["meta"]["source"], []).append(resource["identifier"][0]["value"])
    return {source: sorted(rx) for source, rx in found.items()}


def _issues(parameters: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    outcome = outcome_of(parameters)
    return [(i["severity"], i["code"], i["details"]["coding"][0]["code"], i["diagnostics"]) for i in outcome["issue"]]


def _expected(states: dict[str, State], *codes: str) -> dict[str, list[str]]:
    ut = states["UT"]
    sources = {"UT": f"{ut.base}/fhir", "CO": "urn:pmp:state:CO", "NM": "urn:pmp:state:NM"}
    return {sources[c]: sorted(states[c].fills) for c in codes}


async def _metric(oauth: Any, ut: State, state: str, outcome: str) -> float:
    text = (await oauth.get(f"{ut.base}/metrics")).text
    line = f'pmp_gateway_partner_calls_total{{outcome="{outcome}",state="{state}"}}'
    return sum(float(row.rsplit(" ", 1)[1]) for row in text.splitlines() if row.startswith(line))


async def test_three_states_merged_then_partial_then_whole_again(states: dict[str, State], oauth: Any) -> None:
    ut, nm = states["UT"], states["NM"]
    answer, elapsed = await _fhir_query(oauth, ut)
    print(f"\nall three states: {elapsed * 1000:.0f} ms")
    assert _by_source(answer) == _expected(states, "UT", "CO", "NM")
    assert _issues(answer) == [
        ("information", "informational", "complete", "6 dispensations are included (UT 2, CO 2, NM 2)")
    ]

    assert nm.proc is not None
    os.kill(nm.proc.pid, signal.SIGSTOP)  # NM stops: connections hang, nothing answers
    try:
        timings = []
        for _ in range(2):  # two timeouts open NM's circuit at A (PMP_INTERSTATE_BREAKER_FAILURES=2)
            answer, elapsed = await _fhir_query(oauth, ut)
            timings.append(elapsed)
            assert _by_source(answer) == _expected(states, "UT", "CO")
            *_, warning = _issues(answer)
            assert warning[:3] == ("warning", "incomplete", "error")
            assert "the NM PMP did not answer (timed out)" in warning[3]  # how long: our log only
        answer, elapsed = await _fhir_query(oauth, ut)  # the circuit is open: NM is not called at all
        print(f"NM stopped: {', '.join(f'{t * 1000:.0f} ms' for t in timings)}; circuit open: {elapsed * 1000:.0f} ms")
        assert _by_source(answer) == _expected(states, "UT", "CO")
        *_, warning = _issues(answer)
        assert warning[:3] == ("warning", "incomplete", "error") and "circuit open" in warning[3]
        assert await _metric(oauth, ut, "NM", "timeout") == 2
        assert await _metric(oauth, ut, "NM", "circuit-open") >= 1
    finally:
        os.kill(nm.proc.pid, signal.SIGCONT)  # NM is back

    deadline = time.monotonic() + COOLDOWN + 20  # after the cool-down, A's probe finds NM answering again
    while True:
        answer, elapsed = await _fhir_query(oauth, ut)
        if _by_source(answer) == _expected(states, "UT", "CO", "NM"):
            break
        assert time.monotonic() < deadline, _issues(answer)
        await _pause(0.25)
    print(f"NM back: {elapsed * 1000:.0f} ms")
    assert [i[2] for i in _issues(answer)] == ["complete"]
    assert await _metric(oauth, ut, "NM", "complete") >= 2


async def _pause(seconds: float) -> None:
    await asyncio.sleep(seconds)  # between polls of a bounded wait (the cool-down), not waiting for a server


async def test_ncpdp_names_the_state_pmp_on_every_record(states: dict[str, State], oauth: Any) -> None:
    ut = states["UT"]
    reply = await oauth.post(
        f"{ut.base}/ncpdp/script",
        content=ncpdp_request({"query": PERSON}, _window(), NPI),
        headers={"Content-Type": "application/xml"},
    )
    assert reply.status_code == 200, reply.text
    root = etree.fromstring(reply.content)
    assert ncpdp.validate(root, ncpdp.V2017071) == []
    held: dict[str, list[str]] = {}
    for dispensed in root.findall("s:Body/s:RxHistoryResponse/s:MedicationDispensed", namespaces=NS):
        source = dispensed.findtext("s:HistorySource/s:Source/s:SourceDescription", namespaces=NS)
        held.setdefault(str(source), []).append(
            str(dispensed.findtext("s:HistorySource/s:SourceReference", namespaces=NS))
        )
    assert {k: sorted(v) for k, v in held.items()} == {f"{c} PMP": sorted(states[c].fills) for c in STATES}


async def test_states_named_in_the_request_and_the_audit_record(states: dict[str, State], oauth: Any) -> None:
    ut = states["UT"]
    answer, _ = await _fhir_query(oauth, ut, "CO")  # this time B only
    assert _by_source(answer) == _expected(states, "UT", "CO")
    only_here, _ = await _fhir_query(oauth, ut, "NONE")
    assert _by_source(only_here) == _expected(states, "UT")
    with sqlite3.connect(ut.data / "audit.sqlite3") as db:
        records, detail = db.execute(
            "SELECT records, detail FROM audit_record WHERE detail LIKE '%sources%' ORDER BY seq DESC LIMIT 1"
        ).fetchone()
    assert records == 4
    assert json.loads(detail) == {
        "sources": [
            {"state": "UT", "status": "complete", "records": 2},
            {"state": "CO", "status": "complete", "records": 2},
        ]
    }
