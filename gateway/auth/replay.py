"""Client-assertion replay protection: a ``jti`` is accepted once per issuer for the assertion's lifetime (SMART).

Two backends with one contract (``ReplayStore.claim``): in-process for the embedded default, Redis when the gateway
runs as several replicas. Both fail closed: when the store cannot answer (Redis down, memory bound reached with only
unexpired entries) ``claim`` raises ``AuthStateUnavailable`` and the token endpoint refuses to issue a token
(``shared/reference/platform.md`` §2.4).

Keys are ``sha256(iss NUL jti)``: the parts are client-chosen strings, so they are hashed to a fixed size.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from gateway.auth.errors import AuthStateUnavailable


class ReplayStore(Protocol):
    async def claim(self, issuer: str, jti: str, ttl_seconds: float) -> bool:
        """Record ``(issuer, jti)`` for ``ttl_seconds``: ``True`` the first time, ``False`` for a replay.
        Raises ``AuthStateUnavailable`` when it cannot tell."""
        ...


def _digest(issuer: str, jti: str) -> bytes:
    return hashlib.sha256(issuer.encode("utf-8") + b"\0" + jti.encode("utf-8")).digest()


class MemoryReplayStore:
    """In-process, bounded (``max_entries``) and expiring. When full of unexpired entries it refuses new claims
    rather than forget one (forgetting would let that assertion be replayed)."""

    def __init__(self, max_entries: int = 100_000, clock: Callable[[], float] = time.monotonic) -> None:
        self._seen: dict[bytes, float] = {}  # digest → expiry (clock time); insertion order ≈ expiry order
        self._max = max_entries
        self._clock = clock

    def __len__(self) -> int:
        return len(self._seen)

    def _purge(self, now: float) -> None:
        expired = [k for k, until in self._seen.items() if until <= now]
        for k in expired:
            del self._seen[k]

    async def claim(self, issuer: str, jti: str, ttl_seconds: float) -> bool:
        now = self._clock()
        key = _digest(issuer, jti)
        until = self._seen.get(key)
        if until is not None and until > now:
            return False
        if len(self._seen) >= self._max:
            self._purge(now)
            if len(self._seen) >= self._max:
                raise AuthStateUnavailable("the assertion replay store is full")
        self._seen.pop(key, None)
        self._seen[key] = now + max(ttl_seconds, 1.0)
        return True


class RedisReplayStore:
    """``SET <prefix>jti:<hex digest> 1 NX PX <ttl>``: one round trip, atomic across replicas."""

    def __init__(self, redis: aioredis.Redis, prefix: str = "pmp:oauth:") -> None:
        self._redis = redis
        self._prefix = prefix

    async def claim(self, issuer: str, jti: str, ttl_seconds: float) -> bool:
        key = f"{self._prefix}jti:{_digest(issuer, jti).hex()}"
        try:
            created = await self._redis.set(key, b"1", nx=True, px=max(int(ttl_seconds * 1000), 1000))
        except RedisError as exc:
            raise AuthStateUnavailable("the assertion replay store is unreachable") from exc
        return bool(created)
