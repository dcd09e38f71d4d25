"""The chain: appended records link and verify; tampering with one stored record (changed, deleted, reordered) makes
``verify`` fail and name it; the append-only guard; two writers on one database keep one chain; purges keep what
remains verifiable."""

from __future__ import annotations

import asyncio
import itertools
from datetime import date

import pytest

from gateway.audit import GENESIS, AuditStore, Problem, verify
from gateway.audit.errors import AuditUnavailableError
from gateway.audit.record import Kind, chain_hash
from gateway.audit.store.sqlite import SqliteAuditStore
from tests.gateway.audit.conftest import OpenAnother, make_record, raw_execute


async def test_an_empty_chain_verifies(audit_store: AuditStore) -> None:
    result = await verify(audit_store)
    assert result.ok and result.checked == 0 and result.head_seq == 0 and result.head_hash == GENESIS


async def test_appended_records_link_and_verify(audit_store: AuditStore) -> None:
    assert await audit_store.append([make_record(i) for i in range(3)]) == [1, 2, 3]
    assert await audit_store.append([make_record(3)]) == [4]
    records = await audit_store.records()
    assert [r.seq for r in records] == [1, 2, 3, 4]
    assert records[0].prev_hash == GENESIS
    for before, after in itertools.pairwise(records):
        assert after.prev_hash == before.hash
    assert all(r.intact for r in records)
    assert records[1].record == make_record(1)  # round-trips exactly
    assert records[3].hash == chain_hash(4, make_record(3).values(), records[2].hash)
    result = await verify(audit_store, page=2)  # several pages
    assert result.ok, result
    assert (result.checked, result.first_seq, result.last_seq) == (4, 1, 4)
    assert (await audit_store.head()) == (4, records[3].hash)


async def test_text_round_trips_whatever_it_holds(audit_store: AuditStore) -> None:
    odd = make_record(0, requester="O’Brien-Zoë, Ñandú 東京", query='{"family":"\\u0000x"}', case_number="C\tx")
    await audit_store.append([odd])
    assert (await audit_store.records())[0].record == odd
    assert (await verify(audit_store)).ok


@pytest.fixture
async def ten(audit_store: AuditStore) -> AuditStore:
    await audit_store.append([make_record(i) for i in range(10)])
    return audit_store


async def test_a_changed_field_is_named(ten: AuditStore) -> None:
    await raw_execute(ten, "UPDATE audit_record SET records = 0 WHERE seq = 4")
    result = await verify(ten)
    assert not result.ok
    assert (result.bad_seq, result.problem) == (4, Problem.CHANGED)
    assert result.checked == 3


async def test_a_changed_field_with_its_hash_recomputed_is_named(ten: AuditStore) -> None:
    original = await ten.get(6)
    assert original is not None
    forged = chain_hash(6, make_record(5, outcome="no-data", records=0).values(), original.prev_hash)
    await raw_execute(ten, f"UPDATE audit_record SET outcome = 'no-data', records = 0, hash = '{forged}' WHERE seq = 6")
    result = await verify(ten)
    assert (result.ok, result.bad_seq, result.problem) == (False, 6, Problem.CHANGED)
    assert "hash rewritten" in result.detail


async def test_a_deleted_record_is_named(ten: AuditStore) -> None:
    await raw_execute(ten, "DELETE FROM audit_record WHERE seq = 5")
    result = await verify(ten)
    assert (result.ok, result.bad_seq, result.problem) == (False, 5, Problem.MISSING)


async def test_a_deleted_and_renumbered_record_is_named(ten: AuditStore) -> None:
    await raw_execute(
        ten,
        "DELETE FROM audit_record WHERE seq = 5",
        *(f"UPDATE audit_record SET seq = {s - 1} WHERE seq = {s}" for s in range(6, 11)),
        "UPDATE audit_head SET seq = 9",
    )
    result = await verify(ten)
    assert (result.ok, result.bad_seq, result.problem) == (False, 5, Problem.CHANGED)


async def test_the_newest_records_deleted_are_named(ten: AuditStore) -> None:
    await raw_execute(ten, "DELETE FROM audit_record WHERE seq >= 9")
    result = await verify(ten)
    assert (result.ok, result.bad_seq, result.problem) == (False, 9, Problem.MISSING)


async def test_two_swapped_records_are_named(ten: AuditStore) -> None:
    await raw_execute(
        ten,
        "UPDATE audit_record SET seq = 1000 WHERE seq = 3",
        "UPDATE audit_record SET seq = 3 WHERE seq = 7",
        "UPDATE audit_record SET seq = 7 WHERE seq = 1000",
    )
    result = await verify(ten)
    assert (result.ok, result.bad_seq, result.problem) == (False, 3, Problem.REORDERED)


async def test_a_rewritten_head_is_named(ten: AuditStore) -> None:
    await raw_execute(ten, "UPDATE audit_head SET hash = 'x'")
    result = await verify(ten)
    assert (result.ok, result.bad_seq, result.problem) == (False, 10, Problem.HEAD_MISMATCH)


async def test_records_cannot_be_updated_or_deleted_through_the_database(ten: AuditStore) -> None:
    if isinstance(ten, SqliteAuditStore):
        import sqlite3

        conn = sqlite3.connect(ten.path, isolation_level=None)
        try:
            for statement in ("UPDATE audit_record SET records = 0 WHERE seq = 1", "DELETE FROM audit_record"):
                with pytest.raises(sqlite3.DatabaseError, match="audit records"):
                    conn.execute(statement)
        finally:
            conn.close()
    else:
        import asyncpg

        from tests.gateway.audit.conftest import POSTGRES_DSN

        conn2 = await asyncpg.connect(POSTGRES_DSN, server_settings={"search_path": ten._schema})  # type: ignore[attr-defined]
        try:
            for statement in ("UPDATE audit_record SET records = 0 WHERE seq = 1", "DELETE FROM audit_record"):
                with pytest.raises(asyncpg.RaiseError, match="audit records"):
                    await conn2.execute(statement)
        finally:
            await conn2.close()
    assert (await verify(ten)).ok


async def test_two_stores_on_one_database_keep_one_chain(backend: tuple[AuditStore, OpenAnother]) -> None:
    """Two processes' writers (two store instances, two connections) interleaving their batches."""
    first, another = backend
    second = await another()

    async def write(store: AuditStore, tag: str) -> list[int]:
        seqs: list[int] = []
        for i in range(15):
            seqs += await store.append([make_record(i, request_id=f"{tag}-{i}-{j}") for j in range(1 + i % 3)])
        return seqs

    a, b = await asyncio.gather(write(first, "a"), write(second, "b"))
    assert sorted(a + b) == list(range(1, len(a) + len(b) + 1))
    assert set(a).isdisjoint(b)
    result = await verify(first)
    assert result.ok, result
    assert result.checked == len(a) + len(b) == 60


async def test_a_closed_store_is_unavailable(audit_store: AuditStore) -> None:
    await audit_store.close()
    with pytest.raises(AuditUnavailableError):
        await audit_store.append([make_record()])
    with pytest.raises(AuditUnavailableError):
        await audit_store.records()


# ---- purge


def day(n: int) -> str:
    return f"2026-03-{n:02d}T12:00:00.000000Z"


async def test_a_purge_leaves_a_checkpoint_and_the_rest_verifies(audit_store: AuditStore) -> None:
    await audit_store.append([make_record(i, time=day(1 + i)) for i in range(10)])  # 1–10 March
    result = await audit_store.purge(date(2026, 3, 5), actor="cli:test", today=date(2026, 3, 20))
    assert (result.purged, result.purged_through_seq, result.checkpoint_seq) == (4, 4, 11)
    records = await audit_store.records()
    assert [r.seq for r in records] == [5, 6, 7, 8, 9, 10, 11]
    checkpoint = records[-1]
    assert checkpoint.record.kind == Kind.CHECKPOINT
    assert checkpoint.record.details["purged_through_seq"] == 4
    assert checkpoint.record.details["purged_through_hash"] == records[0].prev_hash
    assert checkpoint.record.details["actor"] == "cli:test"
    verified = await verify(audit_store)
    assert verified.ok, verified
    assert (verified.first_seq, verified.last_seq) == (5, 11)

    # a second purge, after more records: the older checkpoint goes too, the new one anchors the chain
    await audit_store.append([make_record(20, time=day(25))])
    again = await audit_store.purge(date(2026, 3, 9), actor="cli:test", today=date(2026, 3, 26))
    assert again.purged == 4 and again.purged_through_seq == 8
    verified = await verify(audit_store)
    assert verified.ok, verified
    assert verified.first_seq == 9


async def test_a_purge_with_nothing_old_enough_changes_nothing(audit_store: AuditStore) -> None:
    await audit_store.append([make_record(i, time=day(10)) for i in range(3)])
    result = await audit_store.purge(date(2026, 3, 1), actor="t", today=date(2026, 3, 20))
    assert result.purged == 0 and result.checkpoint_seq == 0
    assert await audit_store.count() == 3


async def test_a_purge_of_everything_keeps_the_checkpoint(audit_store: AuditStore) -> None:
    await audit_store.append([make_record(i, time=day(2)) for i in range(3)])
    result = await audit_store.purge(date(2026, 3, 10), actor="t", today=date(2026, 3, 20))
    assert result.purged == 3
    assert [r.seq for r in await audit_store.records()] == [4]
    assert (await verify(audit_store)).ok


async def test_a_purge_stops_at_a_record_under_hold(audit_store: AuditStore) -> None:
    await audit_store.append([make_record(i, time=day(1 + i), patients=[f"p{i}"]) for i in range(6)])
    await audit_store.add_hold(patient_id="p3", until=date(2026, 12, 31), today=date(2026, 3, 20))
    result = await audit_store.purge(date(2026, 3, 10), actor="t", today=date(2026, 3, 20))
    assert (result.purged, result.purged_through_seq, result.kept_for_hold) == (3, 3, True)
    assert (await verify(audit_store)).ok


async def test_a_record_deleted_after_a_purge_is_named(audit_store: AuditStore) -> None:
    await audit_store.append([make_record(i, time=day(1 + i)) for i in range(8)])
    await audit_store.purge(date(2026, 3, 4), actor="t", today=date(2026, 3, 20))
    await raw_execute(audit_store, "DELETE FROM audit_record WHERE seq = 4")  # the first record kept
    result = await verify(audit_store)
    assert (result.ok, result.bad_seq, result.problem) == (False, 4, Problem.MISSING)


@pytest.mark.postgres
async def test_postgres_audit_and_registry_create_one_schema_together() -> None:
    """Replicas starting at once: the registry and the audit trail both create the gateway schema."""
    import uuid

    from gateway.audit.store.postgres import PostgresAuditStore
    from gateway.policy.registry.store.postgres import PostgresRegistry
    from tests.gateway.audit.conftest import POSTGRES_DSN, drop_schema

    schema = "t_" + uuid.uuid4().hex[:16]
    stores = [PostgresAuditStore(POSTGRES_DSN, schema, max_size=1) for _ in range(3)]
    registries = [PostgresRegistry(POSTGRES_DSN, schema, max_size=1) for _ in range(3)]
    everything: list[PostgresAuditStore | PostgresRegistry] = [*stores, *registries]
    try:
        await asyncio.gather(*(s.open() for s in everything))
        assert await stores[0].append([make_record()]) == [1]
    finally:
        for s in everything:
            await s.close()
        await drop_schema(schema)
