"""The assertion-replay and revocation stores: one contract, two backends (memory and the real Redis at
127.0.0.1:6379, each test under its own key prefix), and the Redis-specific sharing and fail-closed behaviour."""

from __future__ import annotations

import asyncio
import time

import pytest
import redis.asyncio as aioredis

from gateway.auth.errors import AuthStateUnavailable
from gateway.auth.replay import MemoryReplayStore, RedisReplayStore, ReplayStore
from gateway.auth.revocation import RedisRevocationStore, RevocationStore
from tests.gateway.auth.auth_helpers import REDIS_URL, drop_prefix


async def test_a_jti_is_accepted_once_per_issuer(replay_store: ReplayStore) -> None:
    assert await replay_store.claim("client-a", "jti-1", 60)
    assert not await replay_store.claim("client-a", "jti-1", 60)
    assert await replay_store.claim("client-b", "jti-1", 60)  # per issuer
    assert await replay_store.claim("client-a", "jti-2", 60)


async def test_weird_identifiers_are_fine(replay_store: ReplayStore) -> None:
    for jti in ["", " ", "*", "a:b:c", "é" * 300, "\x00"]:
        assert await replay_store.claim("c\x00", jti, 60)
        assert not await replay_store.claim("c\x00", jti, 60)


async def test_memory_replay_entries_expire() -> None:
    now = [1000.0]
    store = MemoryReplayStore(clock=lambda: now[0])
    assert await store.claim("c", "j", 30)
    now[0] += 31
    assert await store.claim("c", "j", 30)


async def test_memory_replay_store_refuses_when_full_of_live_entries() -> None:
    now = [1000.0]
    store = MemoryReplayStore(max_entries=2, clock=lambda: now[0])
    assert await store.claim("c", "1", 30)
    assert await store.claim("c", "2", 30)
    with pytest.raises(AuthStateUnavailable):
        await store.claim("c", "3", 30)
    now[0] += 31  # expired entries make room
    assert await store.claim("c", "3", 30)
    assert len(store) == 1


@pytest.mark.redis
async def test_redis_replay_key_expires(redis_client: aioredis.Redis, redis_prefix: str) -> None:
    store = RedisReplayStore(redis_client, redis_prefix)
    try:
        assert await store.claim("c", "j", 1.2)
        keys = [k async for k in redis_client.scan_iter(match=f"{redis_prefix}jti:*")]
        assert len(keys) == 1
        ttl_ms = await redis_client.pttl(keys[0])
        assert 0 < ttl_ms <= 1200
    finally:
        await drop_prefix(redis_client, redis_prefix)


@pytest.mark.redis
async def test_redis_replay_down_fails_closed() -> None:
    dead = aioredis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    try:
        with pytest.raises(AuthStateUnavailable):
            await RedisReplayStore(dead, "x:").claim("c", "j", 60)
    finally:
        await dead.aclose()


async def test_revoked_until_expiry(revocation_store: RevocationStore) -> None:
    now = time.time()
    assert not revocation_store.is_revoked("t1")
    await revocation_store.revoke("t1", now + 60)
    assert revocation_store.is_revoked("t1")
    assert not revocation_store.is_revoked("t2")
    await revocation_store.revoke("old", now - 1)  # already expired: nothing to refuse
    assert not revocation_store.is_revoked("old")


@pytest.mark.redis
async def test_a_revocation_reaches_another_replica(redis_prefix: str) -> None:
    a_client = aioredis.Redis.from_url(REDIS_URL)
    b_client = aioredis.Redis.from_url(REDIS_URL)
    a = RedisRevocationStore(a_client, redis_prefix, refresh_seconds=0.02)
    b = RedisRevocationStore(b_client, redis_prefix, refresh_seconds=0.02)
    await a.start()
    await b.start()
    try:
        await a.revoke("jti-x", time.time() + 60)
        assert a.is_revoked("jti-x")  # at once where it was revoked
        for _ in range(200):  # within the refresh interval elsewhere (bounded poll, no fixed sleep)
            if b.is_revoked("jti-x"):
                break
            await asyncio.sleep(0.01)
        assert b.is_revoked("jti-x")
        # a replica that starts later loads it too
        c = RedisRevocationStore(b_client, redis_prefix)
        await c.refresh()
        assert c.is_revoked("jti-x")
    finally:
        await a.aclose()
        await b.aclose()
        await drop_prefix(a_client, redis_prefix)
        await a_client.aclose()
        await b_client.aclose()


@pytest.mark.redis
async def test_redis_revocation_list_fails_closed_when_stale(redis_client: aioredis.Redis, redis_prefix: str) -> None:
    clock = [0.0]
    store = RedisRevocationStore(redis_client, redis_prefix, max_staleness_seconds=10, monotonic=lambda: clock[0])
    with pytest.raises(AuthStateUnavailable):
        store.is_revoked("j")  # never confirmed
    await store.refresh()
    assert not store.is_revoked("j")
    clock[0] += 11
    with pytest.raises(AuthStateUnavailable):
        store.is_revoked("j")
    await store.refresh()
    assert not store.is_revoked("j")


@pytest.mark.redis
async def test_redis_revoke_while_down_fails_closed() -> None:
    dead = aioredis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    try:
        with pytest.raises(AuthStateUnavailable):
            await RedisRevocationStore(dead, "x:").revoke("j", time.time() + 60)
    finally:
        await dead.aclose()
