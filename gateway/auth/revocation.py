"""Revoked access tokens (RFC 7009): a revoked token's ``jti`` is refused until the token would have expired.

The check runs on every authenticated request, cache hits included, so ``is_revoked`` is a local set lookup with no
I/O in both backends:

- ``MemoryRevocationStore`` — one process (the embedded default).
- ``RedisRevocationStore`` — many replicas. The source of truth is a sorted set ``<prefix>{revoked}`` (member = jti,
  score = the token's ``exp``) and a counter ``<prefix>{revoked}:version``, both written in one MULTI by ``revoke``.
  Each replica keeps a local copy: the replica that revokes applies it at once; the others poll the version every
  ``refresh_seconds`` (one ``GET`` off the request path, in a background task) and re-read the set (only unexpired
  members — it is tiny, tokens live ≤ 5 min) when it moved. A revocation therefore reaches every replica within
  ``refresh_seconds``. Pub/sub push (issue 6) can shorten that; the version poll stays as the bound.
  Fail closed: if the copy has not been confirmed for ``max_staleness_seconds`` (Redis unreachable), ``is_revoked``
  raises ``AuthStateUnavailable`` and requests are refused with 503 rather than risk serving a revoked token.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from gateway.auth.errors import AuthStateUnavailable

log = logging.getLogger("pmp.auth")


class RevocationStore(Protocol):
    async def revoke(self, jti: str, expires_at: float) -> None:
        """Refuse the token ``jti`` until ``expires_at`` (epoch seconds). Raises ``AuthStateUnavailable`` when the
        revocation cannot be recorded."""
        ...

    def is_revoked(self, jti: str) -> bool:
        """Local lookup, no I/O. Raises ``AuthStateUnavailable`` when the local copy is too stale to trust."""
        ...


class _LocalSet:
    def __init__(self, clock: Callable[[], float]) -> None:
        self.revoked: dict[str, float] = {}  # jti → exp (epoch seconds)
        self._clock = clock

    def add(self, jti: str, expires_at: float) -> None:
        now = self._clock()
        if expires_at > now:
            self.revoked[jti] = max(expires_at, self.revoked.get(jti, 0.0))
        if len(self.revoked) > 1024:  # keep it small: expired entries cannot matter (the tokens are expired too)
            self.revoked = {j: e for j, e in self.revoked.items() if e > now}


class MemoryRevocationStore:
    """Revocations in this process only."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._local = _LocalSet(clock)

    async def revoke(self, jti: str, expires_at: float) -> None:
        self._local.add(jti, expires_at)

    def is_revoked(self, jti: str) -> bool:
        return jti in self._local.revoked


class RedisRevocationStore:
    """Revocations shared by every replica through Redis, read locally (see the module docstring).

    Lifecycle: ``await start()`` (first load, then the refresh task) before serving; ``await aclose()`` at shutdown.
    """

    def __init__(
        self,
        redis: aioredis.Redis,
        prefix: str = "pmp:oauth:",
        *,
        refresh_seconds: float = 1.0,
        max_staleness_seconds: float = 10.0,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._redis = redis
        self._set_key = f"{prefix}{{revoked}}"  # one hash tag: both keys share a cluster slot (MULTI)
        self._version_key = f"{prefix}{{revoked}}:version"
        self._refresh_seconds = refresh_seconds
        self._max_staleness = max_staleness_seconds
        self._clock = clock
        self._monotonic = monotonic
        self._local = _LocalSet(clock)
        self._version: bytes | None = None
        self._loaded = False
        self._confirmed_at = float("-inf")
        self._task: asyncio.Task[None] | None = None

    async def revoke(self, jti: str, expires_at: float) -> None:
        now = self._clock()
        if expires_at <= now:
            return
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.zadd(self._set_key, {jti: expires_at})
                pipe.zremrangebyscore(self._set_key, "-inf", now)
                pipe.incr(self._version_key)
                await pipe.execute()
        except RedisError as exc:
            raise AuthStateUnavailable("the revocation list is unreachable") from exc
        self._local.add(jti, expires_at)

    async def refresh(self) -> None:
        """Confirm the local copy against Redis (re-read it when the version moved). Raises ``RedisError``."""
        version = await self._redis.get(self._version_key)
        if not self._loaded or version != self._version:
            now = self._clock()
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.get(self._version_key)
                pipe.zrangebyscore(self._set_key, now, "+inf", withscores=True)
                version, members = await pipe.execute()
            fresh = _LocalSet(self._clock)
            for member, score in members:
                fresh.add(member.decode() if isinstance(member, bytes) else str(member), float(score))
            for jti, exp in self._local.revoked.items():  # keep our own revocations racing with this read
                if exp > now:
                    fresh.add(jti, exp)
            self._local = fresh
            self._version = version
            self._loaded = True
        self._confirmed_at = self._monotonic()

    def is_revoked(self, jti: str) -> bool:
        if self._monotonic() - self._confirmed_at > self._max_staleness:
            raise AuthStateUnavailable("the revocation list could not be confirmed recently")
        return jti in self._local.revoked

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._refresh_seconds)
            try:
                await self.refresh()
            except RedisError:
                log.warning("revocation list refresh failed", exc_info=True)

    async def start(self) -> None:
        await self.refresh()
        self._task = asyncio.create_task(self._run(), name="revocation-refresh")

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
