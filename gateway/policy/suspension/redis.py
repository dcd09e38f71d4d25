"""Suspensions in Redis: the versioned truth every replica reads, pushed to them by pub/sub.

Keys (one hash tag, so a script may touch them all under Redis Cluster too)::

    <prefix>{suspensions}:records    hash  id → record JSON (every record: history)
    <prefix>{suspensions}:current    hash  id → record JSON (not reinstated; expired ones pruned on writes)
    <prefix>{suspensions}:expiring   zset  id → end time (epoch s), to prune ``current``
    <prefix>{suspensions}:version    counter, bumped by every change
    <prefix>suspensions               pub/sub channel: the new version after every change

Every write is one Lua script (``PUT``): merge the records (see ``store.merge``), bump the version and PUBLISH it,
atomically. Pub/sub is at-most-once (a replica that is reconnecting misses messages), so readers also re-read on
every (re)subscribe and check the version periodically (``SuspensionSet``).

Durability: with ``journal`` (the gateway database: SQLite or PostgreSQL) every change is written there first, then
to Redis. ``reconcile`` re-pushes the journal — on every (re)subscribe, and whenever the version key is missing
(Redis restarted without persistence) — so a lost Redis dataset cannot silently lift a suspension, and a change
recorded while Redis was down reaches every replica once it is back. Merging is idempotent, so re-pushing is safe.
Without a journal, Redis must persist (AOF or RDB) or suspensions are lost with it.
"""

from __future__ import annotations

import asyncio
import contextlib
from types import TracebackType
from typing import Any

import orjson
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from gateway.policy.suspension.errors import SuspensionUnavailableError
from gateway.policy.suspension.model import Suspension
from gateway.policy.suspension.sql import SqlSuspensionStore
from gateway.policy.suspension.store import Signal, Snapshot

_FAILURES = (RedisError, OSError, TimeoutError)

# KEYS: records, current, expiring, version. ARGV[1]: channel; then per record: id, JSON, reinstated (0/1), end
# time (epoch seconds, "" = none). Returns {version, {stored JSON per record}}.
PUT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local expired = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now)
for _, id in ipairs(expired) do redis.call('HDEL', KEYS[2], id) end
if #expired > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now) end
local changed = false
local stored = {}
for i = 2, #ARGV, 4 do
  local id, json, reinstated, ends = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local old = redis.call('HGET', KEYS[1], id)
  local take = false
  if not old then
    take = true
  elseif reinstated == '1' then
    local r = cjson.decode(old)['reinstated_at']
    take = type(r) ~= 'string' or r == ''
  end
  if take then
    redis.call('HSET', KEYS[1], id, json)
    if reinstated == '1' then
      redis.call('HDEL', KEYS[2], id)
      redis.call('ZREM', KEYS[3], id)
    elseif ends == '' then
      redis.call('HSET', KEYS[2], id, json)
    elseif tonumber(ends) > now then
      redis.call('HSET', KEYS[2], id, json)
      redis.call('ZADD', KEYS[3], ends, id)
    end
    changed = true
    stored[#stored + 1] = json
  else
    stored[#stored + 1] = old
  end
end
local version = redis.call('GET', KEYS[4])
if changed or not version then
  version = redis.call('INCR', KEYS[4])
  redis.call('PUBLISH', ARGV[1], version)
end
return {tonumber(version), stored}
"""

_CHUNK = 200


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _decode(value: Any) -> Suspension:
    return Suspension.from_json(orjson.loads(value))


class RedisChangeFeed:
    """The pub/sub channel. ``wait`` reports every subscribe confirmation — the first one and those redis-py sends
    again after it reconnects by itself — as ``"resync"``."""

    def __init__(self, redis: aioredis.Redis, channel: str) -> None:
        self._redis = redis
        self._channel = channel
        self._pubsub: Any = None

    async def __aenter__(self) -> RedisChangeFeed:
        try:
            self._pubsub = self._redis.pubsub()
            await self._pubsub.subscribe(self._channel)
        except _FAILURES as exc:
            await self._close()
            raise SuspensionUnavailableError("cannot subscribe to suspension changes") from exc
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._close()

    async def _close(self) -> None:
        if self._pubsub is not None:
            with contextlib.suppress(*_FAILURES):
                await self._pubsub.aclose()
            self._pubsub = None

    async def wait(self, *, seconds: float) -> Signal | None:
        try:
            async with asyncio.timeout(seconds + 1.0):
                message = await self._pubsub.get_message(ignore_subscribe_messages=False, timeout=seconds)
        except _FAILURES as exc:
            raise SuspensionUnavailableError("suspension change feed lost") from exc
        if message is None:
            return None
        kind = _text(message.get("type", ""))
        if kind == "subscribe":
            return "resync"
        return "changed" if kind == "message" else None


class RedisSuspensionStore:
    """See the module docstring. Owns ``journal`` (opens and closes it), not the Redis client."""

    def __init__(
        self,
        redis: aioredis.Redis,
        prefix: str = "pmp:",
        *,
        journal: SqlSuspensionStore | None = None,
        timeout_seconds: float = 2.0,
    ) -> None:
        self._redis = redis
        tag = f"{prefix}{{suspensions}}"
        self._keys = [f"{tag}:records", f"{tag}:current", f"{tag}:expiring", f"{tag}:version"]
        self._channel = f"{prefix}suspensions"
        self._journal = journal
        self._timeout = timeout_seconds
        self._put = redis.register_script(PUT)

    @property
    def journal(self) -> SqlSuspensionStore | None:
        return self._journal

    async def open(self) -> None:
        if self._journal is not None:
            await self._journal.open()

    async def close(self) -> None:
        if self._journal is not None:
            await self._journal.close()

    async def _push(self, records: list[Suspension]) -> list[Suspension]:
        args: list[str] = [self._channel]
        for r in records:
            args += [r.id, orjson.dumps(r.as_json()).decode(), "1" if r.reinstated else "0"]
            args.append(repr(r.until_epoch) if r.until else "")
        try:
            async with asyncio.timeout(self._timeout):
                _, stored = await self._put(keys=self._keys, args=args)
        except _FAILURES as exc:
            raise SuspensionUnavailableError("Redis is unreachable") from exc
        return [_decode(s) for s in stored]

    async def put(self, record: Suspension) -> Suspension:
        if self._journal is not None:
            record = await self._journal.put(record)  # durable first; its merged view is what Redis gets
        try:
            (stored,) = await self._push([record])
        except SuspensionUnavailableError:
            if self._journal is None:
                raise
            raise SuspensionUnavailableError(
                "recorded in the gateway database, but Redis is unreachable: replicas apply it when Redis is back"
            ) from None
        return stored

    async def get(self, suspension_id: str) -> Suspension | None:
        try:
            async with asyncio.timeout(self._timeout):
                found = await self._redis.hget(self._keys[0], suspension_id)
        except _FAILURES as exc:
            raise SuspensionUnavailableError("Redis is unreachable") from exc
        if found is not None:
            return _decode(found)
        return await self._journal.get(suspension_id) if self._journal is not None else None

    async def version(self) -> int | None:
        try:
            async with asyncio.timeout(self._timeout):
                value = await self._redis.get(self._keys[3])
        except _FAILURES as exc:
            raise SuspensionUnavailableError("Redis is unreachable") from exc
        return int(value) if value is not None else None

    async def _read(self) -> tuple[int | None, list[Any]]:
        try:
            async with asyncio.timeout(self._timeout):
                async with self._redis.pipeline(transaction=True) as pipe:
                    pipe.get(self._keys[3])
                    pipe.hvals(self._keys[1])
                    version, values = await pipe.execute()
        except _FAILURES as exc:
            raise SuspensionUnavailableError("Redis is unreachable") from exc
        return (int(version) if version is not None else None), values

    async def snapshot(self) -> Snapshot:
        version, values = await self._read()
        if version is None:  # a Redis without our data (first start, or restarted without persistence)
            await self.reconcile()
            version, values = await self._read()
        return Snapshot(version, tuple(_decode(v) for v in values))

    async def history(self, limit: int = 1000) -> list[Suspension]:
        if self._journal is not None:
            return await self._journal.history(limit)
        try:
            async with asyncio.timeout(self._timeout):
                values = await self._redis.hvals(self._keys[0])
        except _FAILURES as exc:
            raise SuspensionUnavailableError("Redis is unreachable") from exc
        records = [_decode(v) for v in values]
        return sorted(records, key=lambda r: (r.at, r.id), reverse=True)[:limit]

    async def reconcile(self) -> None:
        """Push the journal's records (merge: idempotent); make sure the version key exists."""
        records = await self._journal.all_records() if self._journal is not None else []
        for start in range(0, max(len(records), 1), _CHUNK):
            await self._push(records[start : start + _CHUNK])

    def feed(self) -> RedisChangeFeed:
        return RedisChangeFeed(self._redis, self._channel)
