"""The generic cell rate algorithm (GCRA), in integer microseconds: one function for both limiters.

A bucket stores its *theoretical arrival time* (TAT). A request at ``now``: ``tat = max(tat, now)``;
``new_tat = tat + interval``; it is allowed iff ``now >= new_tat - capacity`` (capacity = ``burst`` intervals), and
then the bucket stores ``new_tat``. The Redis script runs the same test and returns the TATs it read, so the results
(remaining, retry, reset) are computed here for both backends.

Several buckets per request (EDS, client, user, state): the request is allowed only if every enforced bucket allows
it, and only then is any bucket charged. A shadow bucket never refuses; it is charged only when it would have let
the request through (as it would be if enforced).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gateway.policy.ratelimit.model import MICROS, Decision, LimitKey, LimitResult


@dataclass(slots=True, frozen=True)
class Step:
    allowed: bool
    tat: int  # the bucket's TAT before this request (at least now)
    new_tat: int  # what the bucket stores if charged


def step(stored: int | None, now: int, interval: int, capacity: int) -> Step:
    tat = now if stored is None or stored < now else stored
    new_tat = tat + interval
    return Step(now >= new_tat - capacity, tat, new_tat)


def evaluate(
    keys: Sequence[LimitKey], stored: Sequence[int | None], now: int, *, divisor: int = 1, degraded: bool = False
) -> tuple[Decision, list[int | None]]:
    """The decision for ``keys`` whose buckets hold ``stored``, and what to write back (None = leave the bucket).
    ``divisor`` > 1 gives each bucket ``1/divisor`` of its quota (the degraded in-process fallback)."""
    steps: list[Step] = []
    sizes: list[tuple[int, int]] = []
    for key, tat in zip(keys, stored, strict=True):
        policy = key.policy.scaled(divisor)
        sizes.append((policy.interval_us, policy.capacity_us))
        steps.append(step(tat, now, *sizes[-1]))
    allowed = all(s.allowed or k.policy.shadow for s, k in zip(steps, keys, strict=True))
    results: list[LimitResult] = []
    writes: list[int | None] = []
    for key, s, (interval, capacity) in zip(keys, steps, sizes, strict=True):
        charged = allowed and s.allowed
        tat = s.new_tat if charged else s.tat
        remaining = max(0, (capacity - (tat - now)) // interval)
        retry = 0 if s.allowed else s.new_tat - capacity - now
        results.append(LimitResult(key.policy, s.allowed, remaining, retry / MICROS, (tat - now) / MICROS))
        writes.append(s.new_tat if charged else None)
    return Decision(allowed, tuple(results), degraded), writes
