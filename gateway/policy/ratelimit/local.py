"""The in-process GCRA limiter: the embedded default (one process), and the degraded fallback of the Redis limiter.
Same semantics as the Redis script (``gcra.evaluate``); the clock is this process's monotonic clock."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from gateway.policy.ratelimit.gcra import evaluate
from gateway.policy.ratelimit.model import Decision, LimitKey

MAX_BUCKETS = 100_000


def monotonic_us() -> int:
    return time.monotonic_ns() // 1000


class LocalRateLimiter:
    """Buckets in a dict. ``divisor``: each quota divided by this many (replicas sharing one quota while each falls
    back to its own limiter). Full buckets are forgotten when the dict grows past ``max_buckets``."""

    def __init__(
        self,
        *,
        divisor: int = 1,
        degraded: bool = False,
        max_buckets: int = MAX_BUCKETS,
        clock_us: Callable[[], int] = monotonic_us,
    ) -> None:
        self._tats: dict[tuple[str, str], int] = {}
        self._divisor = max(1, divisor)
        self._degraded = degraded
        self._max_buckets = max_buckets
        self._clock_us = clock_us

    def decide(self, keys: Sequence[LimitKey]) -> Decision:
        now = self._clock_us()
        tats = self._tats
        names = [(k.policy.name, k.key) for k in keys]
        decision, writes = evaluate(
            keys, [tats.get(n) for n in names], now, divisor=self._divisor, degraded=self._degraded
        )
        for name, tat in zip(names, writes, strict=True):
            if tat is not None:
                tats[name] = tat
        if len(tats) > self._max_buckets:
            self._tats = {n: t for n, t in tats.items() if t > now}
        return decision

    async def check(self, keys: Sequence[LimitKey]) -> Decision:
        return self.decide(keys)
