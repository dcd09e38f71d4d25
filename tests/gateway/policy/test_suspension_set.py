"""``SuspensionSet`` over every backend: lookups, immediate effect on the replica that writes, propagation to another
replica (measured), expiry without a write, fail-closed staleness and recovery; the suspension-aware client
directory of the token service."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from gateway.auth.clients import RegisteredClient, StaticClientDirectory
from gateway.policy.suspension import (
    MemorySuspensionStore,
    RedisSuspensionStore,
    SqliteSuspensionStore,
    SuspendingClientDirectory,
    SuspensionConflictError,
    SuspensionInputError,
    SuspensionKind,
    SuspensionNotFoundError,
    SuspensionSet,
    SuspensionStateUnavailable,
    new_suspension,
)
from gateway.policy.suspension.sql import COLUMNS
from tests.gateway.policy.conftest import Backend, eventually

CHECK = 0.05


@pytest.fixture
async def live(backend: Backend) -> AsyncIterator[SuspensionSet]:
    suspensions = SuspensionSet(await backend.open(), check_seconds=CHECK)
    await suspensions.start()
    try:
        yield suspensions
    finally:
        await suspensions.aclose()


async def test_each_kind_is_found_and_only_its_target(live: SuspensionSet) -> None:
    assert live.is_suspended(eds_id="eds_1", client_id="cli_1", user_id="usr_1", state="UT") is None
    eds = await live.suspend(SuspensionKind.EDS, "eds_1", reason="DUA breach", by="ops")
    client = await live.suspend(SuspensionKind.CLIENT, "cli_2", reason="leaked key", by="ops")
    user = await live.suspend(SuspensionKind.USER, "usr_3", reason="diversion", by="ops")
    state = await live.suspend(SuspensionKind.STATE, "nv", reason="MOU lapsed", by="ops")
    assert live.is_suspended(eds_id="eds_1") == eds
    assert live.is_suspended(eds_id="eds_9", client_id="cli_2") == client
    assert live.is_suspended(eds_id="eds_9", client_id="cli_9", user_id="usr_3") == user
    assert live.is_suspended(state="NV") == state
    assert live.is_suspended(eds_id="cli_2", client_id="eds_1", user_id="NV", state="UT") is None  # kinds apart
    assert live.is_suspended() is None
    assert {s.id for s in live.current()} == {eds.id, client.id, user.id, state.id}


async def test_reinstating_lifts_at_once_and_only_once(live: SuspensionSet) -> None:
    made = await live.suspend(SuspensionKind.USER, "usr_1", reason="diversion", by="ops")
    done = await live.reinstate(made.id, by="director", reason="cleared")
    assert done.reinstated and done.reinstated_by == "director" and done.reinstate_reason == "cleared"
    assert live.is_suspended(user_id="usr_1") is None
    with pytest.raises(SuspensionConflictError):
        await live.reinstate(made.id, by="director", reason="again")
    with pytest.raises(SuspensionNotFoundError):
        await live.reinstate("sus_nope", by="director", reason="x")
    with pytest.raises(SuspensionInputError):
        await live.reinstate((await live.suspend(SuspensionKind.EDS, "e", reason="r", by="o")).id, by="d", reason=" ")
    history = await live.history()
    assert [r.id for r in history][-1] == made.id and history[-1].reinstated


async def test_bad_input_is_refused_before_any_write(live: SuspensionSet) -> None:
    version = await live.store.version()
    for kind, target, reason in [
        (SuspensionKind.STATE, "ZZ", "r"),
        (SuspensionKind.EDS, "", "r"),
        (SuspensionKind.EDS, "two words", "r"),
        (SuspensionKind.EDS, "eds_1", ""),
        (SuspensionKind.EDS, "eds_1", "x" * 1001),
    ]:
        with pytest.raises(SuspensionInputError):
            await live.suspend(kind, target, reason=reason, by="ops")
    with pytest.raises(SuspensionInputError, match="future"):
        await live.suspend(SuspensionKind.EDS, "e", reason="r", by="o", until=datetime.now(UTC) - timedelta(1))
    assert await live.store.version() == version


async def test_a_suspension_ends_by_itself_at_its_end_time(backend: Backend) -> None:
    later = [0.0]
    suspensions = SuspensionSet(await backend.open(), clock=lambda: datetime.now(UTC).timestamp() + later[0])
    await suspensions.start()
    try:
        until = datetime.now(UTC) + timedelta(hours=1)
        await suspensions.suspend(SuspensionKind.EDS, "eds_1", reason="r", by="o", until=until)
        assert suspensions.is_suspended(eds_id="eds_1") is not None
        later[0] = 3600.5
        assert suspensions.is_suspended(eds_id="eds_1") is None  # no write, no refresh needed
    finally:
        await suspensions.aclose()


async def test_another_replica_sees_a_change_within_a_second(backend: Backend) -> None:
    """Two sets on two handles of one store (two processes): a suspension made through one is enforced by the other
    within 1 s (by push on Redis, by the periodic check elsewhere) — measured, not slept."""
    first = SuspensionSet(await backend.open(), check_seconds=0.5)
    second = SuspensionSet(await backend.open(), check_seconds=0.5)
    await first.start()
    await second.start()
    try:
        made = await first.suspend(SuspensionKind.CLIENT, "cli_1", reason="leaked key", by="ops")
        assert first.is_suspended(client_id="cli_1") == made  # at once on the replica that wrote
        delay = await eventually(lambda: second.is_suspended(client_id="cli_1") is not None, within=1.0)
        assert delay <= 1.0
        await first.reinstate(made.id, by="ops", reason="rotated")
        assert await eventually(lambda: second.is_suspended(client_id="cli_1") is None, within=1.0) <= 1.0
    finally:
        await first.aclose()
        await second.aclose()


async def test_unconfirmed_for_longer_than_the_bound_fails_closed_then_recovers(backend: Backend) -> None:
    clock = [1000.0]
    suspensions = SuspensionSet(
        await backend.open(), check_seconds=3600, max_staleness_seconds=5.0, monotonic=lambda: clock[0]
    )
    await suspensions.start()
    try:
        assert suspensions.is_suspended(eds_id="e") is None
        clock[0] += 4.9
        assert suspensions.is_suspended(eds_id="e") is None  # within the bound: the last confirmed copy
        clock[0] += 0.2
        with pytest.raises(SuspensionStateUnavailable):
            suspensions.is_suspended(eds_id="e")
        await suspensions.refresh()  # the store answers again
        assert suspensions.is_suspended(eds_id="e") is None
    finally:
        await suspensions.aclose()


@pytest.mark.redis
async def test_a_set_started_without_redis_refuses_until_confirmed(tmp_path: Path) -> None:
    dead = aioredis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.1)
    suspensions = SuspensionSet(
        RedisSuspensionStore(dead, "x:", timeout_seconds=0.5), check_seconds=0.05, max_staleness_seconds=0.1
    )
    await suspensions.start()  # never raises: it starts unconfirmed
    try:
        with pytest.raises(SuspensionStateUnavailable):
            suspensions.is_suspended(eds_id="e")
        assert suspensions.confirmed_age() == float("inf")
    finally:
        await suspensions.aclose()
        await dead.aclose()


async def test_a_running_set_picks_up_a_change_the_cli_wrote_to_sqlite(tmp_path: Path) -> None:
    """The embedded default: ``pmp-gateway suspend`` writes to gateway.sqlite3 from another process (here: another
    connection, raw SQL as a stand-in) and ``serve`` picks it up through PRAGMA data_version + the version row."""
    path = tmp_path / "gateway.sqlite3"
    store = SqliteSuspensionStore(path)
    await store.open()
    suspensions = SuspensionSet(store, check_seconds=0.05)
    await suspensions.start()
    try:
        made = new_suspension(SuspensionKind.EDS, "eds_1", reason="r", by="cli", now=datetime.now(UTC))
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        other.execute(
            f"INSERT INTO suspension ({COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (made.id, "eds", "eds_1", "r", "cli", made.at, "", "", "", ""),
        )
        other.execute("UPDATE suspension_version SET version = version + 1")
        other.execute("COMMIT")
        other.close()
        assert await eventually(lambda: suspensions.is_suspended(eds_id="eds_1") is not None, within=1.0) < 1.0
    finally:
        await suspensions.aclose()
        await store.close()


async def test_the_token_service_sees_suspended_clients_as_inactive() -> None:
    base = RegisteredClient("cli_1", "eds_1", "private_key_jwt", frozenset(), active=True, jwks={"keys": []})
    inactive = RegisteredClient("cli_3", "eds_3", "private_key_jwt", frozenset(), active=False, jwks={"keys": []})
    sibling = RegisteredClient("cli_2", "eds_1", "private_key_jwt", frozenset(), active=True)
    directory = StaticClientDirectory([base, sibling, inactive])
    clock = [0.0]
    suspensions = SuspensionSet(MemorySuspensionStore(), check_seconds=3600, monotonic=lambda: clock[0])
    await suspensions.start()
    try:
        wrapped = SuspendingClientDirectory(directory, suspensions)
        assert (await wrapped.find_client("cli_1")) == base
        assert await wrapped.find_client("nobody") is None
        assert (await wrapped.find_client("cli_3")) == inactive
        made = await suspensions.suspend(SuspensionKind.CLIENT, "cli_1", reason="r", by="o")
        found = await wrapped.find_client("cli_1")
        assert found is not None and not found.active
        assert (await wrapped.find_client("cli_2")).active  # type: ignore[union-attr]
        whole = await suspensions.suspend(SuspensionKind.EDS, "eds_1", reason="r", by="o")  # the whole EDS
        assert not (await wrapped.find_client("cli_2")).active  # type: ignore[union-attr]
        await suspensions.reinstate(made.id, by="o", reason="r")
        assert not (await wrapped.find_client("cli_1")).active  # type: ignore[union-attr]  # its EDS still is
        await suspensions.reinstate(whole.id, by="o", reason="r")
        assert await wrapped.find_client("cli_1") == base
        clock[0] += 60  # unconfirmed: no tokens at all
        assert not (await wrapped.find_client("cli_1")).active  # type: ignore[union-attr]
    finally:
        await suspensions.aclose()
