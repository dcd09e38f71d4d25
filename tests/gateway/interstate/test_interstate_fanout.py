"""The fan-out stage in the real pipeline (authorize → search with fan-out → minimum necessary → alerts), with pmpdb
faked at the ``SearchBackend`` seam and partners scripted at the protocol-client seam: which states are asked, the
merged answer, partial answers, the breaker, loop protection and the time budget."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.audit.record import record_of
from gateway.budget import Deadline
from gateway.interstate.answer import PartnerAnswer, PartnerNotAsked, PmixStatus
from gateway.interstate.outbound import CIRCUIT_OPEN
from gateway.pipeline import RequestContext, build_pipeline
from gateway.pipeline.runner import Pipeline
from gateway.testing import FakeSearchBackend, settings_for_tests
from protos.errors import PmpError
from protos.pmp.v1 import pmp_pb2 as pb
from tests.gateway.interstate.partner_helpers import (
    OWN_STATE,
    MemoryDirectory,
    ScriptedClient,
    answering,
    failing,
    fill,
    key_file,
    make_partner,
    scripted_interstate,
)

PRESCRIBER = pb.Requester(role=pb.ROLE_PRESCRIBER, practitioner=pb.Practitioner(npi="1234567893"))
FROM_NM = pb.Requester(role=pb.ROLE_PRESCRIBER, practitioner=pb.Practitioner(npi="1234567893"), state="NM")
PERSON = pb.MatchedPatient(id="42", record_ids=["42"], name=pb.HumanName(family="SMITH", given="JOHN"))


def local_found(*fills: pb.Dispensation) -> pb.SearchHistoryResponse:
    return pb.SearchHistoryResponse(
        match_status=pb.MATCH_STATUS_FOUND, patients=[PERSON], dispensations=fills, total_dispensations=len(fills)
    )


LOCAL = local_found(fill("UT-2", "2026-05-02", OWN_STATE), fill("UT-1", "2026-01-10", OWN_STATE))


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def pipeline(
    tmp_path: Path,
    scripts: dict[str, ScriptedClient],
    *,
    local: pb.SearchHistoryResponse | PmpError = LOCAL,
    local_delay: float = 0.0,
    roles: tuple[str, ...] = ("ROLE_PRESCRIBER",),
    timeout: float = 2.0,
    clock: Clock | None = None,
) -> tuple[Pipeline, FakeSearchBackend]:
    key = key_file(tmp_path)
    directory = MemoryDirectory(make_partner(s, key, roles=roles, timeout=timeout) for s in scripts)
    settings = settings_for_tests(
        tmp_path, authenticate=False, identify=False, suspension=False, rate_limit=False, audit=False
    )
    backend = FakeSearchBackend(local, delay=local_delay)
    interstate = scripted_interstate(directory, scripts, failures=2, cooldown=30.0, clock=clock)
    return build_pipeline(settings, backend, interstate=interstate), backend


def ctx_for(
    requester: pb.Requester = PRESCRIBER,
    *,
    states: tuple[str, ...] = (),
    operation: str = "pdmp-history",
    budget: float = 5.0,
    page_token: str = "",
) -> RequestContext:
    search = pb.SearchHistoryRequest(
        patient=pb.PatientQuery(name=pb.HumanName(family="SMITH", given="JOHN"), birth_date="1980-02-03"),
        requester=requester,
        date_range=pb.DateRange(start="2025-11-01", end="2026-11-01"),
        states=states,
        page_token=page_token,
    )
    return RequestContext("rid-1", "fhir", operation, Deadline.after(budget), search)


async def run(p: Pipeline, ctx: RequestContext) -> pb.SearchHistoryResponse:
    await p.run(ctx)
    assert ctx.response is not None
    return ctx.response


def sources(response: pb.SearchHistoryResponse) -> list[tuple[str, str, int]]:
    return [(s.state, s.status, s.dispensations) for s in response.sources]


async def test_merges_every_state_newest_fill_first_each_labelled(tmp_path: Path) -> None:
    co = ScriptedClient("CO", answering("CO", fill("CO-1", "2026-03-01"), fill("CO-0", "2025-12-24")))
    nm = ScriptedClient("NM", answering("NM", fill("NM-1", "2026-05-02")))
    p, _ = pipeline(tmp_path, {"CO": co, "NM": nm})
    ctx = ctx_for()
    response = await run(p, ctx)
    assert [(d.rx_number, d.source_state) for d in response.dispensations] == [
        ("UT-2", "UT"),  # the same day as NM-1: ours first
        ("NM-1", "NM"),
        ("CO-1", "CO"),
        ("UT-1", "UT"),
        ("CO-0", "CO"),
    ]
    assert sources(response) == [("UT", "complete", 2), ("CO", "complete", 2), ("NM", "complete", 1)]
    assert response.total_dispensations == 5
    assert list(response.patients) == [PERSON]
    # the partner was asked the same person, period and requester — and nothing that would fan out again
    asked = co.asked[0]
    assert asked.patient == ctx.search.patient and asked.date_range == ctx.search.date_range
    assert asked.requester.role == pb.ROLE_PRESCRIBER and not asked.states and not asked.page_token
    record = record_of(ctx, None)
    assert record.records == 5 and record.patients == '["42"]'


async def test_a_failed_partner_is_named_never_a_silent_gap(tmp_path: Path) -> None:
    co = ScriptedClient("CO", answering("CO", fill("CO-1", "2026-03-01")))
    nm = ScriptedClient("NM", failing("HTTP 503"))
    az = ScriptedClient("AZ", PartnerAnswer("AZ", PmixStatus.DISALLOWED, detail="HTTP 403"))
    p, _ = pipeline(tmp_path, {"CO": co, "NM": nm, "AZ": az})
    response = await run(p, ctx_for())
    assert sources(response) == [
        ("UT", "complete", 2),
        ("CO", "complete", 1),
        ("NM", "error", 0),
        ("AZ", "disallowed", 0),
    ]
    assert response.sources[2].detail == "unavailable"  # "HTTP 503" stays in our log: the user needs no more
    assert {d.source_state for d in response.dispensations} == {"UT", "CO"}


async def test_a_slow_partner_costs_its_part_not_the_answer(tmp_path: Path) -> None:
    co = ScriptedClient("CO", answering("CO", fill("CO-1", "2026-03-01")), delay=10.0)
    p, _ = pipeline(tmp_path, {"CO": co}, timeout=0.2)
    response = await run(p, ctx_for())
    assert sources(response) == [("UT", "complete", 2), ("CO", "error", 0)]
    assert response.sources[1].detail == "timed out"
    assert co.cancelled == 1


async def test_the_request_budget_bounds_each_partner_call(tmp_path: Path) -> None:
    co = ScriptedClient("CO", answering("CO"), delay=10.0)
    p, _ = pipeline(tmp_path, {"CO": co}, timeout=30.0)
    response = await run(p, ctx_for(budget=0.4))  # the partner's own 30 s would overrun the request
    assert response.sources[1].status == "error"
    assert response.sources[1].detail == "timed out"


async def test_the_breaker_stops_calling_a_failing_partner_and_probes_after_the_cooldown(tmp_path: Path) -> None:
    clock = Clock()
    co = ScriptedClient("CO", failing("connection refused or unreachable"))
    p, _ = pipeline(tmp_path, {"CO": co}, clock=clock)
    for _ in range(2):  # failures=2 opens it
        assert (await run(p, ctx_for())).sources[1].detail == "unavailable"
    response = await run(p, ctx_for())
    assert (response.sources[1].status, response.sources[1].detail) == ("error", CIRCUIT_OPEN)
    assert len(co.asked) == 2  # not called while open
    clock.now += 30.0
    co.behaviour = answering("CO", fill("CO-1", "2026-03-01"))
    assert sources(await run(p, ctx_for()))[1] == ("CO", "complete", 1)  # the probe, which closes it
    assert sources(await run(p, ctx_for()))[1] == ("CO", "complete", 1)
    assert len(co.asked) == 4


@pytest.mark.parametrize(
    ("requester", "states"),
    [
        (FROM_NM, ()),  # came in from a partner hub: never fanned out again
        (FROM_NM, ("CO",)),  # whatever it asks for
        (PRESCRIBER, ("NONE",)),  # this state only
        (pb.Requester(role=pb.ROLE_PHARMACIST, practitioner=pb.Practitioner(npi="1234567893")), ()),  # not default
    ],
)
async def test_requests_that_go_to_no_partner(tmp_path: Path, requester: pb.Requester, states: tuple[str, ...]) -> None:
    co = ScriptedClient("CO", answering("CO", fill("CO-1", "2026-03-01")))
    p, backend = pipeline(tmp_path, {"CO": co})
    ctx = ctx_for(requester, states=states)
    response = await run(p, ctx)
    assert not co.asked and not response.sources
    assert [d.id for d in response.dispensations] == ["UT-2", "UT-1"]
    assert len(backend.calls) == 1


@pytest.mark.parametrize(("operation", "page_token"), [("dispense-search", ""), ("pdmp-history", "page-2")])
async def test_search_pages_are_this_states_records(tmp_path: Path, operation: str, page_token: str) -> None:
    co = ScriptedClient("CO", answering("CO", fill("CO-1", "2026-03-01")))
    p, _ = pipeline(tmp_path, {"CO": co})
    response = await run(p, ctx_for(operation=operation, page_token=page_token))
    assert not co.asked and not response.sources


async def test_named_states_are_asked_and_unknown_ones_reported(tmp_path: Path) -> None:
    co = ScriptedClient("CO", answering("CO"))
    nm = ScriptedClient("NM", answering("NM", fill("NM-1", "2026-05-01")))
    p, _ = pipeline(tmp_path, {"CO": co, "NM": nm}, roles=())  # no default set: only named states are asked
    response = await run(p, ctx_for(states=("nm", "UT", "WY", "NM")))
    assert not co.asked and len(nm.asked) == 1
    assert sources(response) == [("UT", "complete", 2), ("NM", "complete", 1), ("WY", "error", 0)]
    assert response.sources[2].detail == "not a partner state of this PMP"


@pytest.mark.parametrize("states", [("NONE", "CO"), ("C0",), ("COLORADO",)])
async def test_malformed_states_are_invalid(tmp_path: Path, states: tuple[str, ...]) -> None:
    p, backend = pipeline(tmp_path, {"CO": ScriptedClient("CO", answering("CO"))})
    with pytest.raises(PmpError) as refused:
        await p.run(ctx_for(states=states))
    assert refused.value.code == pb.ERROR_CODE_INVALID_REQUEST
    assert not backend.calls


async def test_our_failure_fails_the_request_and_cancels_the_partner_calls(tmp_path: Path) -> None:
    co = ScriptedClient("CO", answering("CO"), delay=10.0)
    p, _ = pipeline(tmp_path, {"CO": co}, local=PmpError(pb.ERROR_CODE_BACKEND_UNAVAILABLE, "down"), local_delay=0.05)
    with pytest.raises(PmpError) as failed:
        await p.run(ctx_for())
    assert failed.value.code == pb.ERROR_CODE_BACKEND_UNAVAILABLE
    assert co.cancelled == 1


async def test_partner_records_when_we_know_nobody(tmp_path: Path) -> None:
    co = ScriptedClient("CO", answering("CO", fill("CO-1", "2026-03-01")))
    p, _ = pipeline(tmp_path, {"CO": co}, local=pb.SearchHistoryResponse(match_status=pb.MATCH_STATUS_NOT_FOUND))
    ctx = ctx_for()
    response = await run(p, ctx)
    assert response.match_status == pb.MATCH_STATUS_FOUND and not response.patients
    assert sources(response) == [("UT", "no-data", 0), ("CO", "complete", 1)]
    record = record_of(ctx, None)
    assert (record.outcome, record.records, record.patients) == ("provided", 1, "[]")


async def test_our_ambiguous_candidates_never_leave_beside_partner_records(tmp_path: Path) -> None:
    co = ScriptedClient("CO", answering("CO", fill("CO-1", "2026-03-01")))
    ambiguous = pb.SearchHistoryResponse(match_status=pb.MATCH_STATUS_AMBIGUOUS, patients=[PERSON, PERSON])
    p, _ = pipeline(tmp_path, {"CO": co}, local=ambiguous)
    response = await run(p, ctx_for())
    assert response.match_status == pb.MATCH_STATUS_FOUND and not response.patients
    assert [(s.state, s.status) for s in response.sources] == [("UT", "deferred"), ("CO", "complete")]


async def test_partner_records_are_held_to_minimum_necessary(tmp_path: Path) -> None:
    theirs = fill("CO-1", "2026-03-01")
    theirs.payment_type, theirs.pharmacist_npi = "01", "1112223334"
    p, _ = pipeline(tmp_path, {"CO": ScriptedClient("CO", answering("CO", theirs))})
    response = await run(p, ctx_for())
    merged = next(d for d in response.dispensations if d.source_state == "CO")
    assert merged.rx_number == "CO-1" and not merged.payment_type and not merged.pharmacist_npi


async def test_a_query_a_partner_cannot_be_asked_leaves_its_breaker_alone(tmp_path: Path) -> None:
    co = ScriptedClient("CO", PartnerNotAsked("not asked: PMIX needs the surname and full birth date"))
    p, _ = pipeline(tmp_path, {"CO": co})
    for _ in range(3):  # more than the 2 failures that would open the circuit
        response = await run(p, ctx_for())
        assert (response.sources[1].status, response.sources[1].detail) == ("error", co.behaviour.args[0])
    assert len(co.asked) == 3


async def test_no_partner_call_once_the_budget_is_spent(tmp_path: Path) -> None:
    co = ScriptedClient("CO", answering("CO", fill("CO-1", "2026-03-01")))
    p, _ = pipeline(tmp_path, {"CO": co}, local_delay=0.0)
    response = await run(p, ctx_for(budget=0.04))  # less than the 50 ms kept back for merging and encoding
    assert not co.asked
    assert (response.sources[1].status, response.sources[1].detail) == (
        "error",
        "not asked: the request's time budget ran out",
    )
