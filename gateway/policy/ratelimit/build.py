"""Settings → the rate limiter and quota book of one process."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import redis.asyncio as aioredis

from gateway.policy.ratelimit.local import LocalRateLimiter
from gateway.policy.ratelimit.model import Decision, LimitKey
from gateway.policy.ratelimit.quotas import QuotaBook, QuotaDefaults, registry_eds_quota
from gateway.policy.ratelimit.redis import RedisRateLimiter
from gateway.policy.registry.store.base import RegistryStore

if TYPE_CHECKING:
    from gateway.settings import Settings


class RateLimiter(Protocol):
    async def check(self, keys: list[LimitKey]) -> Decision: ...


@dataclass(slots=True, frozen=True)
class RateLimitConfig:
    """``rate_limit_redis_timeout_seconds``, ``rate_limit_redis_retry_seconds``, ``rate_limit_replicas`` (settings;
    these defaults until the settings carry them)."""

    redis_timeout_seconds: float = 0.25
    redis_retry_seconds: float = 1.0
    replicas: int = 1

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimitConfig:
        return cls(
            redis_timeout_seconds=float(getattr(settings, "rate_limit_redis_timeout_seconds", 0.25)),
            redis_retry_seconds=float(getattr(settings, "rate_limit_redis_retry_seconds", 1.0)),
            replicas=int(getattr(settings, "rate_limit_replicas", 1)),
        )


def make_rate_limiter(settings: Settings, redis: aioredis.Redis | None) -> RateLimiter:
    """In-process without Redis; with Redis, the Lua limiter degrading to an in-process one (quota / replicas)."""
    if redis is None:
        return LocalRateLimiter()
    config = RateLimitConfig.from_settings(settings)
    return RedisRateLimiter(
        redis,
        settings.redis_prefix,
        fallback=LocalRateLimiter(divisor=config.replicas, degraded=True),
        timeout_seconds=config.redis_timeout_seconds,
        retry_seconds=config.redis_retry_seconds,
    )


def make_quota_book(settings: Settings, registry: RegistryStore | None) -> QuotaBook:
    return QuotaBook(
        QuotaDefaults.from_settings(settings), registry_eds_quota(registry) if registry is not None else None
    )
