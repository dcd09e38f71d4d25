"""Redis stopped while the gateway runs, on a private ``redis-server`` (no persistence) this test stops and starts:
suspension lookups fail closed after the bound, rate limits degrade to in-process and keep answering, a suspension
made meanwhile is kept in the journal; when Redis returns — empty — everything recovers by itself, rebuilt from the
journal, without restarting anything."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from gateway.policy.ratelimit import LimitKey, Policy, RedisRateLimiter
from gateway.policy.suspension import (
    RedisSuspensionStore,
    SqliteSuspensionStore,
    SuspensionKind,
    SuspensionSet,
    SuspensionStateUnavailable,
    SuspensionUnavailableError,
)
from tests.gateway.policy.conftest import PrivateRedis, eventually

pytestmark = [pytest.mark.redis, pytest.mark.slow]

BOUND = 1.0


def _unconfirmed(suspensions: SuspensionSet) -> bool:
    try:
        suspensions.is_suspended(eds_id="eds_1")
    except SuspensionStateUnavailable:
        return True
    return False


async def test_redis_outage_fails_closed_degrades_and_recovers(private_redis: PrivateRedis, tmp_path: Path) -> None:
    client = aioredis.Redis.from_url(private_redis.url, socket_connect_timeout=0.5, socket_timeout=1.0)
    store = RedisSuspensionStore(client, "pmp:", journal=SqliteSuspensionStore(tmp_path / "gateway.sqlite3"))
    await store.open()
    suspensions = SuspensionSet(store, check_seconds=0.1, max_staleness_seconds=BOUND, call_timeout_seconds=0.5)
    limiter = RedisRateLimiter(client, "pmp:", timeout_seconds=0.25, retry_seconds=0.2)
    eds = LimitKey(Policy("eds", 1, 3600, 100), "eds_1")
    await suspensions.start()
    try:
        made = await suspensions.suspend(SuspensionKind.EDS, "eds_1", reason="DUA breach", by="ops")
        assert suspensions.is_suspended(eds_id="eds_1") == made
        assert not (await limiter.check([eds])).degraded
        resyncs = suspensions.resyncs

        private_redis.stop()
        # the last confirmed copy holds until the bound, then every lookup refuses (the stage answers 503)
        took = await eventually(lambda: _unconfirmed(suspensions), within=BOUND + 2.0)
        assert took >= BOUND - 0.3
        decision = await limiter.check([eds])
        assert decision.allowed and decision.degraded  # limits degrade; the gateway keeps answering
        with pytest.raises(SuspensionUnavailableError, match="recorded in the gateway database"):
            await suspensions.suspend(SuspensionKind.CLIENT, "cli_7", reason="leaked key", by="ops")

        private_redis.start()  # back, and empty (no persistence)
        await eventually(lambda: not _unconfirmed(suspensions), within=5.0)
        assert suspensions.is_suspended(eds_id="eds_1") == made  # rebuilt from the journal
        assert suspensions.is_suspended(client_id="cli_7") is not None  # the change made during the outage
        assert suspensions.resyncs > resyncs  # resubscribed → full re-read
        for _ in range(60):  # Redis is tried again every retry_seconds (0.2 s)
            if not (await limiter.check([eds])).degraded:
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the limiter did not return to Redis")
    finally:
        await suspensions.aclose()
        await store.close()
        await client.aclose()
