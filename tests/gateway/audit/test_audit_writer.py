"""Group commit: many concurrent records share few transactions, all committed, one linear chain — also with two
writers (two processes' stores) on one database; a store that is down or too slow fails the waiting records."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import Sequence
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from gateway.audit import AuditRecord, AuditStore, AuditUnavailableError, AuditWriter, verify
from gateway.audit.store.postgres import PostgresAuditStore
from gateway.audit.store.sqlite import SqliteAuditStore
from tests.gateway.audit.conftest import OpenAnother, TcpProxy, drop_schema, make_record


async def test_concurrent_records_share_transactions(audit_store: AuditStore) -> None:
    writer = AuditWriter(audit_store, max_batch=64)
    await writer.start()
    try:
        seqs = await asyncio.gather(*(writer.record(make_record(i)) for i in range(300)))
    finally:
        await writer.stop()
    assert sorted(seqs) == list(range(1, 301))
    assert writer.committed == 300 and writer.failed == 0
    assert 300 / 64 <= writer.batches < 300 / 4  # batches fill up (bounded by max_batch), far fewer than records
    result = await verify(audit_store)
    assert result.ok and result.checked == 300


async def test_batches_and_commit_times_reach_the_metrics(audit_store: AuditStore) -> None:
    batches_before = _sample("pmp_gateway_audit_batch_records_count")
    records_before = _sample("pmp_gateway_audit_batch_records_sum")
    commits_before = _sample("pmp_gateway_audit_commit_seconds_count")
    writer = AuditWriter(audit_store, max_batch=16)
    await writer.start()
    try:
        await asyncio.gather(*(writer.record(make_record(i)) for i in range(40)))
    finally:
        await writer.stop()
    assert _sample("pmp_gateway_audit_batch_records_count") - batches_before == writer.batches
    assert _sample("pmp_gateway_audit_batch_records_sum") - records_before == 40
    assert _sample("pmp_gateway_audit_commit_seconds_count") - commits_before == writer.batches


def _sample(name: str) -> float:
    value = REGISTRY.get_sample_value(name)
    return 0.0 if value is None else value


async def test_a_lone_record_commits_without_waiting_for_company(audit_store: AuditStore) -> None:
    writer = AuditWriter(audit_store)
    await writer.start()
    try:
        assert await writer.record(make_record()) == 1
        assert await writer.record(make_record(1)) == 2
    finally:
        await writer.stop()
    assert writer.batches == 2


async def test_records_arriving_during_a_commit_form_the_next_batch(audit_store: AuditStore) -> None:
    writer = AuditWriter(audit_store, max_batch=1000)
    await writer.start()
    try:
        first = asyncio.ensure_future(writer.record(make_record(0)))
        await asyncio.sleep(0)  # the writer takes the lone record and starts its transaction
        rest = [asyncio.ensure_future(writer.record(make_record(i))) for i in range(1, 50)]
        await asyncio.gather(first, *rest)
    finally:
        await writer.stop()
    assert writer.batches <= 3 and writer.committed == 50


async def test_two_writers_on_one_database_keep_one_chain(backend: tuple[AuditStore, OpenAnother]) -> None:
    first, another = backend
    writers = [AuditWriter(first, max_batch=16), AuditWriter(await another(), max_batch=16)]
    for w in writers:
        await w.start()
    try:

        async def burst(w: AuditWriter, tag: str) -> list[int]:
            seqs: list[int] = []
            for round_ in range(5):
                seqs += await asyncio.gather(
                    *(w.record(make_record(i, request_id=f"{tag}{round_}.{i}")) for i in range(20))
                )
            return seqs

        a, b = await asyncio.gather(burst(writers[0], "a"), burst(writers[1], "b"))
    finally:
        for w in writers:
            await w.stop()
    assert sorted(a + b) == list(range(1, 201))
    result = await verify(first)
    assert result.ok and result.checked == 200


async def test_stop_commits_what_is_pending_then_refuses(audit_store: AuditStore) -> None:
    writer = AuditWriter(audit_store)
    await writer.start()
    pending = [writer.submit(make_record(i)) for i in range(10)]
    await writer.stop()
    assert [f.result() for f in pending] == list(range(1, 11))
    with pytest.raises(AuditUnavailableError, match="not running"):
        await writer.record(make_record())


async def test_a_locked_sqlite_database_fails_the_batch_then_recovers(tmp_path: Path) -> None:
    store = SqliteAuditStore(tmp_path / "audit.sqlite3")
    await store.open()
    writer = AuditWriter(store, commit_timeout=0.3)
    await writer.start()
    blocker = sqlite3.connect(store.path, isolation_level=None)
    try:
        blocker.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
        results = await asyncio.gather(*(writer.record(make_record(i)) for i in range(5)), return_exceptions=True)
        assert all(isinstance(r, AuditUnavailableError) for r in results)
        assert writer.failed == 5
        blocker.execute("ROLLBACK")
        assert await writer.record(make_record(9)) == 1  # the refused ones were rolled back, not committed late
    finally:
        blocker.close()
        await writer.stop()
        await store.close()
    assert writer.committed == 1


class SlowStore(SqliteAuditStore):
    """A real SQLite store whose commits wait for a gate: a database that has stopped answering."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.gate = asyncio.Event()

    async def append(self, records: Sequence[AuditRecord], *, within: float | None = None) -> list[int]:
        await self.gate.wait()  # a commit already under way when its waiters give up
        return await super().append(records, within=within)


async def test_a_commit_that_takes_too_long_fails_the_waiter_but_records_the_request(tmp_path: Path) -> None:
    store = SlowStore(tmp_path / "audit.sqlite3")
    await store.open()
    writer = AuditWriter(store, commit_timeout=0.05)
    await writer.start()
    try:
        with pytest.raises(AuditUnavailableError, match="in time"):
            await writer.record(make_record())
        store.gate.set()
        assert await writer.record(make_record(1)) == 2  # the first record was committed late, not lost
    finally:
        await writer.stop()
        await store.close()


@pytest.mark.postgres
async def test_postgres_going_away_fails_the_batch() -> None:
    proxy = TcpProxy()
    await proxy.start()
    schema = "t_" + uuid.uuid4().hex[:16]
    store = PostgresAuditStore(proxy.dsn, schema, command_timeout=2.0)
    await store.open()
    writer = AuditWriter(store, commit_timeout=3.0)
    await writer.start()
    try:
        assert await writer.record(make_record(0)) == 1
        await proxy.stop()
        results = await asyncio.gather(*(writer.record(make_record(i)) for i in range(5)), return_exceptions=True)
        assert all(isinstance(r, AuditUnavailableError) for r in results), results
    finally:
        await writer.stop()
        await store.close()
        await drop_schema(schema)


async def test_two_sqlite_writers_in_threads_of_their_own_share_the_file(tmp_path: Path) -> None:
    """The embedded default with ``--workers 2``: each worker's store has its own connections to one file."""
    stores = [SqliteAuditStore(tmp_path / "audit.sqlite3") for _ in range(2)]
    for s in stores:
        await s.open()
    writers = [AuditWriter(s) for s in stores]
    for w in writers:
        await w.start()
    try:
        await asyncio.gather(*(writers[i % 2].record(make_record(i)) for i in range(100)))
    finally:
        for w in writers:
            await w.stop()
    result = await verify(stores[0])
    for s in stores:
        await s.close()
    assert result.ok and result.checked == 100


@pytest.mark.postgres
async def test_a_postgres_head_lock_held_elsewhere_fails_the_batch_then_recovers() -> None:
    import asyncpg

    from tests.gateway.audit.conftest import POSTGRES_DSN

    schema = "t_" + uuid.uuid4().hex[:16]
    store = PostgresAuditStore(POSTGRES_DSN, schema)
    await store.open()
    writer = AuditWriter(store, commit_timeout=0.3)
    await writer.start()
    blocker = await asyncpg.connect(POSTGRES_DSN, server_settings={"search_path": schema})
    try:
        locked = blocker.transaction()
        await locked.start()
        await blocker.execute("SELECT seq FROM audit_head WHERE id = 1 FOR UPDATE")  # another replica's batch
        results = await asyncio.gather(*(writer.record(make_record(i)) for i in range(5)), return_exceptions=True)
        assert all(isinstance(r, AuditUnavailableError) for r in results), results
        await locked.rollback()
        assert await writer.record(make_record(9)) == 1  # the refused ones were rolled back, not committed late
    finally:
        await blocker.close()
        await writer.stop()
        await store.close()
        await drop_schema(schema)
