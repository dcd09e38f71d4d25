"""The suspension store contract, run against every backend (memory, SQLite, PostgreSQL, Redis with and without its
journal); then what only some backends promise: durability across a restart, and Redis rebuilt from the journal."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from gateway.policy.suspension import (
    RedisSuspensionStore,
    SqliteSuspensionStore,
    Suspension,
    SuspensionKind,
    SuspensionUnavailableError,
    new_suspension,
)
from gateway.policy.suspension.model import utc_text
from tests.gateway.policy.conftest import REDIS_URL, Backend, drop_prefix

NOW = datetime.now(UTC)


async def test_put_get_snapshot_history(backend: Backend) -> None:
    store = await backend.open()
    before = await store.version()
    first = new_suspension(SuspensionKind.EDS, "eds_1", reason="DUA breach", by="inspector", now=NOW)
    stored = await store.put(first)
    assert stored == first
    assert await store.get(first.id) == first
    assert await store.get("sus_missing") is None
    after = await store.version()
    assert after is not None and after != before
    later = new_suspension(SuspensionKind.STATE, "nv", reason="MOU lapsed", by="inspector", now=NOW + timedelta(1))
    await store.put(later)
    assert later.target == "NV"
    snapshot = await store.snapshot()
    assert {s.id for s in snapshot.suspensions} == {first.id, later.id}
    assert snapshot.version == await store.version()
    history = await store.history()
    assert [r.id for r in history] == [later.id, first.id]  # newest first
    assert [r.id for r in await store.history(1)] == [later.id]


async def test_putting_the_same_record_again_changes_nothing(backend: Backend) -> None:
    store = await backend.open()
    first = new_suspension(SuspensionKind.CLIENT, "cli_1", reason="leaked key", by="ops", now=NOW)
    await store.put(first)
    version = await store.version()
    assert await store.put(replace(first, reason="something else")) == first  # records are immutable
    assert await store.version() == version


async def test_a_reinstatement_is_merged_once(backend: Backend) -> None:
    store = await backend.open()
    first = new_suspension(SuspensionKind.USER, "usr_1", reason="diversion", by="ops", now=NOW)
    await store.put(first)
    version = await store.version()
    done = first.reinstate(by="director", reason="cleared", at=NOW + timedelta(hours=1))
    assert await store.put(done) == done
    assert await store.version() != version
    assert first.id not in {s.id for s in (await store.snapshot()).suspensions}
    version = await store.version()
    late = first.reinstate(by="someone else", reason="too late", at=NOW + timedelta(hours=2))
    kept = await store.put(late)
    assert (kept.reinstated_by, kept.reinstate_reason) == ("director", "cleared")  # the first one wins
    assert await store.version() == version
    # a stale copy without the reinstatement cannot undo it either
    assert (await store.put(first)).reinstated
    assert [r.id for r in await store.history()] == [first.id]


async def test_another_handle_sees_the_change(backend: Backend) -> None:
    writer, reader = await backend.open(), await backend.open()
    version = await reader.version()
    await reader.snapshot()
    written = await writer.put(new_suspension(SuspensionKind.EDS, "eds_9", reason="r", by="b", now=NOW))
    assert await reader.version() != version
    assert written.id in {s.id for s in (await reader.snapshot()).suspensions}


async def test_an_ended_suspension_is_history_not_current(backend: Backend) -> None:
    store = await backend.open()
    ended = new_suspension(
        SuspensionKind.EDS, "eds_2", reason="r", by="b", now=NOW - timedelta(hours=2), until=NOW - timedelta(hours=1)
    )
    await store.put(ended)
    now = datetime.now(UTC).timestamp()
    assert all(not s.in_force(now) for s in (await store.snapshot()).suspensions)  # some backends prune, none apply
    assert (await store.history())[0].status(now) == "expired"


async def test_sqlite_suspensions_survive_a_restart(tmp_path: Path) -> None:
    store = SqliteSuspensionStore(tmp_path / "gateway.sqlite3")
    await store.open()
    kept = await store.put(new_suspension(SuspensionKind.EDS, "eds_1", reason="r", by="b", now=NOW))
    version = await store.version()
    await store.close()
    again = SqliteSuspensionStore(tmp_path / "gateway.sqlite3")
    await again.open()
    try:
        assert (await again.snapshot()).suspensions == (kept,)
        assert await again.version() == version
    finally:
        await again.close()


@pytest.mark.redis
async def test_redis_that_lost_its_data_is_rebuilt_from_the_journal(tmp_path: Path) -> None:
    client = aioredis.Redis.from_url(REDIS_URL)
    prefix = f"test:{tmp_path.name}:"
    store = RedisSuspensionStore(client, prefix, journal=SqliteSuspensionStore(tmp_path / "gateway.sqlite3"))
    await store.open()
    try:
        kept = await store.put(new_suspension(SuspensionKind.EDS, "eds_1", reason="r", by="b", now=NOW))
        await drop_prefix(client, prefix)  # Redis restarted without persistence
        assert await store.version() is None
        snapshot = await store.snapshot()  # notices, re-pushes the journal, reads again
        assert snapshot.suspensions == (kept,)
        assert snapshot.version is not None
    finally:
        await store.close()
        await drop_prefix(client, prefix)
        await client.aclose()


@pytest.mark.redis
async def test_a_change_made_while_redis_is_down_is_kept_and_pushed_later(tmp_path: Path) -> None:
    journal_path = tmp_path / "gateway.sqlite3"
    dead = aioredis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    down = RedisSuspensionStore(dead, "x:", journal=SqliteSuspensionStore(journal_path), timeout_seconds=1.0)
    await down.open()
    try:
        made = new_suspension(SuspensionKind.CLIENT, "cli_1", reason="r", by="b", now=NOW)
        with pytest.raises(SuspensionUnavailableError, match="recorded in the gateway database"):
            await down.put(made)
    finally:
        await down.close()
        await dead.aclose()
    client = aioredis.Redis.from_url(REDIS_URL)
    prefix = f"test:{tmp_path.name}:"
    up = RedisSuspensionStore(client, prefix, journal=SqliteSuspensionStore(journal_path))
    await up.open()
    try:
        await up.snapshot()  # creates the version: Redis is "running" with our keys
        await up.reconcile()  # what every replica does on (re)subscribe
        assert made.id in {s.id for s in (await up.snapshot()).suspensions}
    finally:
        await up.close()
        await drop_prefix(client, prefix)
        await client.aclose()


def test_record_json_round_trip() -> None:
    made = new_suspension(
        SuspensionKind.STATE, " ut ", reason=" partner MOU lapsed ", by="ops", now=NOW, until=NOW + timedelta(days=1)
    )
    assert made.target == "UT" and made.reason == "partner MOU lapsed"
    assert made.until == utc_text(NOW + timedelta(days=1))
    assert Suspension.from_json(made.as_json()) == made
    assert made.as_json(NOW.timestamp())["status"] == "active"
