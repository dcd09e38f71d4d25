"""The audit hook around the pipeline (``FakeSearchBackend`` for pmpdb, a real SQLite audit store): one record per
request whatever its end; an answer returns only once its record is committed; no audit, no data."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import orjson
import pytest

from gateway.audit import AuditRecord, AuditWriter, Outcome, outcome_of, record_of, verify
from gateway.audit.store.sqlite import SqliteAuditStore
from gateway.budget import Deadline
from gateway.pipeline import Pipeline, RequestContext
from gateway.pipeline.audit import Audit, audited
from gateway.pipeline.authorize import Authorize
from gateway.pipeline.minimum_necessary import MinimumNecessary
from gateway.pipeline.search import Search
from gateway.testing import FakeSearchBackend
from protos.errors import PmpError
from protos.pmp.v1 import pmp_pb2 as pb

NPI = pb.Practitioner(npi="1234567893", name=pb.HumanName(family="AMSTER", given="ADAM"))
PRESCRIBER = pb.Requester(role=pb.ROLE_PRESCRIBER, practitioner=NPI, user_id="usr_1")
FOUND = pb.SearchHistoryResponse(
    match_status=pb.MATCH_STATUS_FOUND,
    patients=[pb.MatchedPatient(id="17", record_ids=["17", "23"])],
    dispensations=[pb.Dispensation(rx_number="RX1"), pb.Dispensation(rx_number="RX2")],
    total_dispensations=2,
)


class GatedStore(SqliteAuditStore):
    """A real SQLite store whose commits wait for ``gate`` (to watch a request wait for its record)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.gate = asyncio.Event()
        self.gate.set()

    async def append(self, records: Sequence[AuditRecord], *, within: float | None = None) -> list[int]:
        await self.gate.wait()
        return await super().append(records, within=within)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[GatedStore]:
    s = GatedStore(tmp_path / "audit.sqlite3")
    await s.open()
    yield s
    await s.close()


@pytest.fixture
async def writer(store: GatedStore) -> AsyncIterator[AuditWriter]:
    w = AuditWriter(store, commit_timeout=1.0)
    await w.start()
    yield w
    await w.stop()


def ctx_for(requester: pb.Requester = PRESCRIBER, *, budget: float = 5.0) -> RequestContext:
    search = pb.SearchHistoryRequest(
        patient=pb.PatientQuery(name=pb.HumanName(family="O'Smith", given="Jane Ann"), birth_date="1980-01-02"),
        requester=requester,
        date_range=pb.DateRange(start="2025-01-01", end="2025-12-31"),
    )
    ctx = RequestContext("rid-1", "fhir", "pdmp-history", Deadline.after(budget), search)
    ctx.client_id, ctx.eds_id = "cli_1", "eds_1"
    return ctx


def pipeline(answer: pb.SearchHistoryResponse | PmpError, *, delay: float = 0.0) -> Pipeline:
    return Pipeline([Authorize(), Search(FakeSearchBackend(answer, delay=delay)), MinimumNecessary(), Audit()])


async def run(ctx: RequestContext, p: Pipeline, writer: AuditWriter) -> None:
    async def body() -> None:
        try:
            async with asyncio.timeout(ctx.deadline.remaining()):
                await p.run(ctx)
        except TimeoutError:
            raise PmpError(pb.ERROR_CODE_TIMEOUT, "the request's time budget ran out") from None

    await audited(ctx, body, writer)


async def only_record(store: GatedStore) -> AuditRecord:
    records = await store.records()
    assert len(records) == 1
    return records[0].record


async def test_a_disclosure_returns_only_after_its_record_is_committed(store: GatedStore, writer: AuditWriter) -> None:
    store.gate.clear()
    ctx = ctx_for()
    task = asyncio.create_task(run(ctx, pipeline(FOUND), writer))
    for _ in range(20):
        await asyncio.sleep(0.005)
    assert not task.done()  # the answer is ready; its record is not committed
    assert await store.count() == 0
    store.gate.set()
    await task
    assert ctx.response is not None and len(ctx.response.dispensations) == 2
    assert ctx.notes["audit"] == "seq 1"
    rec = await only_record(store)
    assert (rec.outcome, rec.records, rec.error_code) == ("provided", 2, "")
    assert (rec.request_id, rec.protocol, rec.operation, rec.eds_id, rec.client_id) == (
        "rid-1",
        "fhir",
        "pdmp-history",
        "eds_1",
        "cli_1",
    )
    assert (rec.user_id, rec.role, rec.purpose, rec.requester, rec.requester_ident) == (
        "usr_1",
        "prescriber",
        "treatment",
        "AMSTER, ADAM",
        "npi:1234567893",
    )
    assert orjson.loads(rec.patients) == ["17", "23"]
    assert (rec.q_last, rec.q_first, rec.q_dob) == ("OSMITH", "JANE", "1980-01-02")
    assert orjson.loads(rec.query) == {"family": "O'Smith", "given": "Jane Ann", "birth_date": "1980-01-02"}
    assert (rec.range_start, rec.range_end) == ("2025-01-01", "2025-12-31")


async def test_no_audit_no_data(store: GatedStore, writer: AuditWriter) -> None:
    await store.close()  # the audit database goes away
    ctx = ctx_for()
    with pytest.raises(PmpError) as refused:
        await run(ctx, pipeline(FOUND), writer)
    assert refused.value.code == pb.ERROR_CODE_AUDIT_UNAVAILABLE
    assert refused.value.http_status == 503
    assert ctx.response is None


async def test_a_commit_too_slow_withholds_the_answer(store: GatedStore, tmp_path: Path) -> None:
    store.gate.clear()
    writer = AuditWriter(store, commit_timeout=0.05)
    await writer.start()
    try:
        ctx = ctx_for()
        with pytest.raises(PmpError) as refused:
            await run(ctx, pipeline(FOUND), writer)
        assert refused.value.code == pb.ERROR_CODE_AUDIT_UNAVAILABLE
        assert ctx.response is None
    finally:
        store.gate.set()
        await writer.stop()


@pytest.mark.parametrize(
    ("requester", "answer", "outcome", "code"),
    [
        (pb.Requester(role=pb.ROLE_LAW_ENFORCEMENT, practitioner=NPI), FOUND, Outcome.DISALLOWED, "forbidden"),
        (PRESCRIBER, pb.SearchHistoryResponse(match_status=pb.MATCH_STATUS_NOT_FOUND), Outcome.NO_DATA, ""),
        (PRESCRIBER, pb.SearchHistoryResponse(match_status=pb.MATCH_STATUS_FOUND), Outcome.NO_DATA, ""),
        (PRESCRIBER, pb.SearchHistoryResponse(match_status=pb.MATCH_STATUS_AMBIGUOUS), Outcome.AMBIGUOUS, ""),
        (PRESCRIBER, PmpError(pb.ERROR_CODE_BACKEND_UNAVAILABLE, "down"), Outcome.ERROR, "backend_unavailable"),
        (PRESCRIBER, PmpError(pb.ERROR_CODE_PATIENT_NOT_FOUND, "none"), Outcome.NO_DATA, "patient_not_found"),
    ],
)
async def test_every_end_is_recorded_with_its_outcome(
    store: GatedStore,
    writer: AuditWriter,
    requester: pb.Requester,
    answer: pb.SearchHistoryResponse | PmpError,
    outcome: Outcome,
    code: str,
) -> None:
    ctx = ctx_for(requester)
    refused: PmpError | None = None
    try:
        await run(ctx, pipeline(answer), writer)
    except PmpError as error:
        refused = error
    assert (refused.code_name if refused else "") == code
    rec = await only_record(store)
    assert (rec.outcome, rec.error_code, rec.records) == (outcome.value, code, 0)
    assert rec.patients == "[]"
    assert rec.q_last == "OSMITH"  # the query is kept for the accounting, whatever the outcome


@pytest.mark.parametrize(
    ("code", "outcome"),
    [
        (pb.ERROR_CODE_UNAUTHENTICATED, Outcome.DENIED),
        (pb.ERROR_CODE_NOT_REGISTERED, Outcome.DISALLOWED),
        (pb.ERROR_CODE_INSUFFICIENT_SCOPE, Outcome.DISALLOWED),
        (pb.ERROR_CODE_SUSPENDED, Outcome.SUSPENDED),
        (pb.ERROR_CODE_RATE_LIMITED, Outcome.RATE_LIMITED),
        (pb.ERROR_CODE_PATIENT_AMBIGUOUS, Outcome.AMBIGUOUS),
        (pb.ERROR_CODE_TIMEOUT, Outcome.ERROR),
        (pb.ERROR_CODE_INVALID_REQUEST, Outcome.ERROR),
        (pb.ERROR_CODE_AUDIT_UNAVAILABLE, Outcome.ERROR),
    ],
)
def test_outcome_of_each_refusal(code: pb.ErrorCode.ValueType, outcome: Outcome) -> None:
    assert outcome_of(ctx_for(), PmpError(code, "x")) is outcome


class Refuse:
    """An earlier stage (authenticate, identify, suspension, rate limit) refusing."""

    def __init__(self, name: str, code: pb.ErrorCode.ValueType) -> None:
        self.name, self.code = name, code

    async def __call__(self, ctx: RequestContext) -> None:
        raise PmpError(self.code, "refused")


async def test_a_refusal_by_an_earlier_stage_is_recorded(store: GatedStore, writer: AuditWriter) -> None:
    ctx = ctx_for(pb.Requester(practitioner=NPI))  # not identified: no user id, no role
    ctx.client_id = ctx.eds_id = ""
    p = Pipeline([Refuse("authenticate", pb.ERROR_CODE_UNAUTHENTICATED), Authorize(), Audit()])
    with pytest.raises(PmpError):
        await run(ctx, p, writer)
    rec = await only_record(store)
    assert (rec.outcome, rec.error_code, rec.client_id, rec.user_id, rec.role) == (
        "denied",
        "unauthenticated",
        "",
        "",
        "",
    )
    assert rec.requester_ident == "npi:1234567893"  # what the message claimed


async def test_a_timeout_is_recorded(store: GatedStore, writer: AuditWriter) -> None:
    with pytest.raises(PmpError) as refused:
        await run(ctx_for(budget=0.05), pipeline(FOUND, delay=1.0), writer)
    assert refused.value.code == pb.ERROR_CODE_TIMEOUT
    rec = await only_record(store)
    assert (rec.outcome, rec.error_code) == ("error", "timeout")


async def test_a_bug_is_recorded_and_still_raised(store: GatedStore, writer: AuditWriter) -> None:
    class Broken:
        name = "broken"

        async def __call__(self, ctx: RequestContext) -> None:
            raise KeyError("bug")

    with pytest.raises(KeyError):
        await run(ctx_for(), Pipeline([Broken(), Audit()]), writer)
    assert (await only_record(store)).error_code == "internal"


async def test_a_request_abandoned_by_its_client_is_recorded(store: GatedStore, writer: AuditWriter) -> None:
    task = asyncio.create_task(run(ctx_for(), pipeline(FOUND, delay=5.0), writer))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    for _ in range(100):
        if await store.count():
            break
        await asyncio.sleep(0.01)
    rec = await only_record(store)
    assert (rec.outcome, rec.error_code) == ("error", "cancelled")


async def test_a_refusal_goes_out_even_when_the_audit_store_is_down(store: GatedStore, writer: AuditWriter) -> None:
    await store.close()
    with pytest.raises(PmpError) as refused:
        await run(ctx_for(pb.Requester(role=pb.ROLE_LAW_ENFORCEMENT, practitioner=NPI)), pipeline(FOUND), writer)
    assert refused.value.code == pb.ERROR_CODE_FORBIDDEN  # the refusal itself, which discloses nothing


async def test_the_audit_stage_refuses_when_nothing_records_the_answer() -> None:
    ctx = ctx_for()
    with pytest.raises(PmpError) as refused:
        await pipeline(FOUND).run(ctx)  # the hook is not around the run: a wiring mistake
    assert refused.value.code == pb.ERROR_CODE_AUDIT_UNAVAILABLE


async def test_many_concurrent_requests_one_record_each(store: GatedStore, writer: AuditWriter) -> None:
    ctxs = [ctx_for() for _ in range(50)]
    await asyncio.gather(*(run(c, pipeline(FOUND), writer) for c in ctxs))
    assert await store.count() == 50
    assert writer.batches < 50
    assert (await verify(store)).ok


def test_a_delegates_and_a_partner_states_request_are_recorded_as_such() -> None:
    requester = pb.Requester(
        role=pb.ROLE_LICENSED_DELEGATE,
        practitioner=pb.Practitioner(state_license="rn-77", license_state="ut", name=pb.HumanName(family="NURSE")),
        on_behalf_of=pb.Practitioner(npi="1234567893", name=pb.HumanName(family="WELBY", given="MARCUS")),
        user_id="usr_d",
        purpose=pb.PURPOSE_TREATMENT,
        state="id",
        case_number=" C-1\x00 ",
    )
    ctx = ctx_for(requester)
    ctx.response = FOUND
    rec = record_of(ctx, None, time="2026-01-01T00:00:00.000000Z")
    assert (rec.role, rec.requester, rec.requester_ident) == ("licensed_delegate", "NURSE", "license:UT:rn-77")
    assert (rec.on_behalf_of, rec.on_behalf_of_ident) == ("WELBY, MARCUS", "npi:1234567893")
    assert (rec.partner_state, rec.case_number) == ("ID", "C-1\ufffd")  # NUL: the one character PostgreSQL refuses
    assert (rec.outcome, rec.records, rec.time) == ("provided", 2, "2026-01-01T00:00:00.000000Z")
