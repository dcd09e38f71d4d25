"""The host's one audit writer: workers' records over the relay share its batches and its chain, and a worker
that cannot reach it refuses (no audit, no data) until it reconnects by itself."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from gateway.audit import AuditUnavailableError, AuditWriter, verify
from gateway.audit.relay import AuditRelay, RelayAuditWriter, relay_socket
from gateway.audit.store.sqlite import SqliteAuditStore
from tests.gateway.audit.conftest import make_record


@asynccontextmanager
async def relay_on(path: Path, store: SqliteAuditStore) -> AsyncIterator[AuditWriter]:
    writer = AuditWriter(store, max_batch=64, commit_timeout=1.0)
    relay = AuditRelay(writer, relay_socket(path))
    await writer.start()
    await relay.start()
    try:
        yield writer
    finally:
        await relay.stop()
        await writer.stop()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteAuditStore]:
    store = SqliteAuditStore(tmp_path / "audit.sqlite3")
    await store.open()
    yield store
    await store.close()


async def test_records_from_two_workers_form_one_chain(tmp_path: Path, store: SqliteAuditStore) -> None:
    sock = tmp_path / "relay.sock"
    async with relay_on(sock, store) as writer:
        workers = [RelayAuditWriter(sock, commit_timeout=1.0) for _ in range(2)]
        for worker in workers:
            await worker.start()
            assert worker.running
        seqs = await asyncio.gather(*(workers[i % 2].record(make_record(i)) for i in range(200)))
        for worker in workers:
            await worker.stop()
    assert sorted(seqs) == list(range(1, 201))
    assert writer.batches < 200  # both workers' records shared transactions
    assert (sock.stat().st_mode & 0o777) == 0o600
    result = await verify(store)
    assert result.ok and result.checked == 200
    stored = {s.record for s in await store.records(limit=1000)}
    assert stored == {make_record(i) for i in range(200)}  # every field made it across


async def test_a_record_submitted_and_not_awaited_still_commits(tmp_path: Path, store: SqliteAuditStore) -> None:
    sock = tmp_path / "relay.sock"
    async with relay_on(sock, store):
        worker = RelayAuditWriter(sock)
        await worker.start()
        worker.submit(make_record(1))  # an abandoned request: recorded, nobody waits
        await worker.stop()  # drains what was sent
    assert await store.count() == 1


async def test_a_store_failure_reaches_the_worker_as_unavailable(tmp_path: Path, store: SqliteAuditStore) -> None:
    sock = tmp_path / "relay.sock"
    blocker = sqlite3.connect(tmp_path / "audit.sqlite3", isolation_level=None, timeout=10)
    async with relay_on(sock, store):
        worker = RelayAuditWriter(sock, commit_timeout=0.5)
        await worker.start()
        blocker.execute("BEGIN EXCLUSIVE")  # the audit database takes no writes
        try:
            with pytest.raises(AuditUnavailableError):
                await worker.record(make_record(1))
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        assert await worker.record(make_record(2)) >= 1  # the store is back: so is the trail
        await worker.stop()


async def test_without_the_relay_a_worker_refuses_then_reconnects(tmp_path: Path, store: SqliteAuditStore) -> None:
    sock = tmp_path / "relay.sock"
    worker = RelayAuditWriter(sock)
    async with relay_on(sock, store):
        await worker.start()
        assert await worker.record(make_record(1)) == 1
    await _until(lambda: not worker.running)
    with pytest.raises(AuditUnavailableError):  # no audit, no data
        await worker.record(make_record(2))
    async with relay_on(sock, store):
        await _until(lambda: worker.running)
        assert await worker.record(make_record(3)) == 2
    await worker.stop()
    result = await verify(store)
    assert result.ok and result.checked == 2


async def test_a_bad_frame_drops_that_connection_only(tmp_path: Path, store: SqliteAuditStore) -> None:
    sock = tmp_path / "relay.sock"
    async with relay_on(sock, store):
        worker = RelayAuditWriter(sock)
        await worker.start()
        _, intruder = await asyncio.open_unix_connection(str(sock))
        intruder.write(b"\x00\x00\x00\x05hello")
        await intruder.drain()
        intruder.close()
        assert await worker.record(make_record(1)) == 1
        await worker.stop()


async def _until(condition: Callable[[], bool]) -> None:
    """Poll for a state the relay reaches by itself (at most 5 s)."""
    for _ in range(250):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the condition did not hold within 5 s")
