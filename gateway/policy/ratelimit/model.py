"""Rate-limit values: a ``Policy`` (a quota with a name), the key it is charged to, and the decision.

A quota is ``rate`` requests per ``per_seconds`` with bursts of up to ``burst`` requests (GCRA: one request's
*emission interval* is ``per_seconds / rate``; a full bucket lets ``burst`` requests through back to back, then one
per interval). ``shadow``: counted and reported in metrics, never refused and not advertised in headers.

Settings name quotas as text: ``RATE/SECONDS[,burst=N][,shadow]`` (``600/60,burst=100``), or ``off``. Without
``burst`` the burst is the rate.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

from gateway.policy.registry.model import Quota, QuotaSyntaxError, parse_quota, quota_text

__all__ = ["MICROS", "Quota", "QuotaSyntaxError", "parse_quota", "quota_text"]

MICROS = 1_000_000


@dataclass(slots=True, frozen=True)
class Policy:
    """A named quota: ``eds``, ``client``, ``user`` or ``state``."""

    name: str
    rate: int
    per_seconds: int
    burst: int
    shadow: bool = False

    @property
    def interval_us(self) -> int:
        """Emission interval in microseconds (at least 1)."""
        return max(1, self.per_seconds * MICROS // self.rate)

    @property
    def capacity_us(self) -> int:
        """Burst tolerance in microseconds: ``burst`` intervals."""
        return self.interval_us * self.burst

    def scaled(self, divisor: int) -> Policy:
        """This policy shared by ``divisor`` independent limiters (the in-process fallback of ``divisor``
        replicas): each gets ``rate / divisor`` and ``burst / divisor`` (at least 1)."""
        if divisor <= 1:
            return self
        return Policy(self.name, self.rate, self.per_seconds * divisor, max(1, self.burst // divisor), self.shadow)

    @property
    def header_item(self) -> str:
        """This policy as a ``RateLimit-Policy`` list member (draft-ietf-httpapi-ratelimit-headers-10)."""
        return f'"{self.name}";q={self.rate};w={self.per_seconds}'


@functools.lru_cache(maxsize=4096)
def policy_of(name: str, quota: Quota) -> Policy:
    return Policy(name, quota.rate, quota.per_seconds, quota.burst, quota.shadow)


@dataclass(slots=True, frozen=True)
class LimitKey:
    """One bucket a request is charged to: a policy and whose it is (the EDS id, client id, user id, state)."""

    policy: Policy
    key: str


@dataclass(slots=True, frozen=True)
class LimitResult:
    """One bucket's answer. ``remaining``: requests left after this one (or now, if it was not charged);
    ``retry_after``: seconds until this bucket would let the request through (0 if it did); ``reset``: seconds until
    the bucket is full again."""

    policy: Policy
    allowed: bool
    remaining: int
    retry_after: float
    reset: float

    @property
    def header_item(self) -> str:
        """This bucket as a ``RateLimit`` list member: ``t`` is the retry time when nothing is left, else the time
        until the quota is whole again (delay-seconds, rounded up)."""
        wait = self.retry_after if self.remaining <= 0 else self.reset
        if self.remaining <= 0 and wait <= 0:
            wait = self.policy.interval_us / MICROS
        return f'"{self.policy.name}";r={max(0, self.remaining)};t={math.ceil(wait)}'


@dataclass(slots=True, frozen=True)
class Decision:
    """The answer for all of a request's buckets. ``allowed`` unless an enforced (non-shadow) bucket refused;
    ``degraded``: decided in-process because Redis was unreachable."""

    allowed: bool
    results: tuple[LimitResult, ...]
    degraded: bool = False

    @property
    def refused_by(self) -> tuple[LimitResult, ...]:
        return tuple(r for r in self.results if not r.allowed and not r.policy.shadow)

    @property
    def shadow_refused_by(self) -> tuple[LimitResult, ...]:
        return tuple(r for r in self.results if not r.allowed and r.policy.shadow)

    @property
    def retry_after(self) -> float:
        """Whole seconds until every refusing bucket lets the request through (0 when allowed)."""
        refused = self.refused_by
        return float(math.ceil(max(r.retry_after for r in refused))) if refused else 0.0

    @property
    def policy_header(self) -> str:
        """``RateLimit-Policy``: the enforced policies that applied ("" when none)."""
        return ", ".join(r.policy.header_item for r in self.results if not r.policy.shadow)

    @property
    def state_header(self) -> str:
        """``RateLimit``: the enforced buckets' remaining quota ("" when none)."""
        return ", ".join(r.header_item for r in self.results if not r.policy.shadow)
