"""The Redis GCRA limiter: one atomic Lua script per request checks every bucket the request is charged to and
charges them only when all enforced ones allow it. The clock is Redis's own (``TIME``), so every replica shares it.

Keys: ``<prefix>{ratelimit}:<policy>:<id>`` — one hash tag, so the script's keys share a slot under Redis Cluster
(that puts every bucket on one shard: fine at a state PMP's volume). A bucket holds its TAT (integer microseconds
since 2025-01-01, exact in Lua's doubles) and expires once it would be full again.

Redis unreachable (an error, or no answer within ``timeout_seconds``): the request is decided by an in-process
limiter (``fallback``: each quota divided by the replica count) — limits degrade, the gateway keeps answering.
Redis is not tried again for ``retry_seconds``. Each switch is logged once and counted
(``pmp_gateway_rate_limit_redis_outages_total``); every degraded decision is counted
(``pmp_gateway_rate_limit_degraded_total``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from gateway.policy.ratelimit import metrics
from gateway.policy.ratelimit.gcra import evaluate
from gateway.policy.ratelimit.local import LocalRateLimiter
from gateway.policy.ratelimit.model import Decision, LimitKey

log = logging.getLogger("pmp.ratelimit")

EPOCH = 1_735_689_600  # 2025-01-01T00:00:00Z: TATs are microseconds since then

# KEYS: one bucket per policy. ARGV[1]: the epoch; then per bucket: interval µs, capacity µs, shadow (0/1).
# Returns {now, blocked (0/1), the TAT read per bucket (at least now)}.
GCRA = """
local t = redis.call('TIME')
local now = (tonumber(t[1]) - tonumber(ARGV[1])) * 1000000 + tonumber(t[2])
local tats, news = {}, {}
local blocked = 0
for i = 1, #KEYS do
  local interval = tonumber(ARGV[i * 3 - 1])
  local capacity = tonumber(ARGV[i * 3])
  local stored = redis.call('GET', KEYS[i])
  local tat = now
  if stored then tat = math.max(tonumber(stored), now) end
  tats[i] = tat
  local new_tat = tat + interval
  if now >= new_tat - capacity then
    news[i] = new_tat
  elseif ARGV[i * 3 + 1] ~= '1' then
    blocked = 1
  end
end
if blocked == 0 then
  for i = 1, #KEYS do
    if news[i] then
      redis.call('SET', KEYS[i], string.format('%.0f', news[i]), 'PX', math.ceil((news[i] - now) / 1000) + 1)
    end
  end
end
local out = {now, blocked}
for i = 1, #KEYS do out[i + 2] = tats[i] end
return out
"""

_FAILURES = (RedisError, OSError, TimeoutError)


class RedisRateLimiter:
    """See the module docstring."""

    def __init__(
        self,
        redis: aioredis.Redis,
        prefix: str = "pmp:",
        *,
        fallback: LocalRateLimiter | None = None,
        timeout_seconds: float = 0.25,
        retry_seconds: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._script = redis.register_script(GCRA)
        self._prefix = f"{prefix}{{ratelimit}}:"
        self._fallback = fallback or LocalRateLimiter(degraded=True)
        self._timeout = timeout_seconds
        self._retry = retry_seconds
        self._monotonic = monotonic
        self._down_until = float("-inf")
        self._down = False

    @property
    def degraded(self) -> bool:
        """Whether the last decision came from the in-process fallback."""
        return self._down

    async def check(self, keys: Sequence[LimitKey]) -> Decision:
        if self._down and self._monotonic() < self._down_until:
            return self._degraded(keys)
        args: list[int | str] = [EPOCH]
        for k in keys:
            args += [k.policy.interval_us, k.policy.capacity_us, "1" if k.policy.shadow else "0"]
        try:
            async with asyncio.timeout(self._timeout):
                reply = await self._script(keys=[f"{self._prefix}{k.policy.name}:{k.key}" for k in keys], args=args)
        except _FAILURES as exc:
            if not self._down:
                self._down = True
                metrics.REDIS_OUTAGES.inc()
                log.warning(
                    "rate limits degraded to in-process: Redis unreachable", extra={"error": type(exc).__name__}
                )
            self._down_until = self._monotonic() + self._retry
            return self._degraded(keys)
        if self._down:
            self._down = False
            log.warning("rate limits back on Redis")
        now, _blocked, *tats = (int(v) for v in reply)
        decision, _ = evaluate(keys, tats, now)
        return decision

    def _degraded(self, keys: Sequence[LimitKey]) -> Decision:
        metrics.DEGRADED.inc()
        return self._fallback.decide(keys)
