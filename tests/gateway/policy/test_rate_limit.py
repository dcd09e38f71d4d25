"""GCRA rate limits: one suite for the in-process limiter and the Redis Lua script (two limiters on one prefix = two
replicas sharing one quota); exact arithmetic with a fake clock; the degraded fallback; quotas from settings and the
registry; the header values (draft-ietf-httpapi-ratelimit-headers-10)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from gateway.policy.ratelimit import (
    LimitKey,
    LocalRateLimiter,
    Policy,
    QuotaBook,
    QuotaDefaults,
    QuotaSyntaxError,
    RedisRateLimiter,
    parse_quota,
    quota_text,
    registry_eds_quota,
)
from gateway.policy.ratelimit import metrics as rl_metrics
from gateway.policy.registry.model import Quota
from gateway.policy.registry.store.sqlite import SqliteRegistry
from gateway.testing import register_client
from tests.gateway.policy.conftest import Limiters

HOURLY = 3600  # per_seconds: slow enough that no quota refills while a test runs


def key(name: str, rate: int, burst: int, who: str = "a", *, shadow: bool = False, per: int = HOURLY) -> LimitKey:
    return LimitKey(Policy(name, rate, per, burst, shadow), who)


async def test_a_burst_then_refusals_with_retry_and_remaining(limiters: Limiters) -> None:
    eds = key("eds", 1, 3)
    remaining = []
    for _ in range(3):
        decision = await limiters.first.check([eds])
        assert decision.allowed and not decision.degraded
        remaining.append(decision.results[0].remaining)
    assert remaining == [2, 1, 0]
    refused = await limiters.first.check([eds])
    assert not refused.allowed
    assert refused.refused_by[0].policy.name == "eds"
    assert HOURLY - 5 <= refused.retry_after <= HOURLY  # one emission interval (whole seconds, rounded up)
    assert refused.results[0].remaining == 0


async def test_two_replicas_share_one_quota(limiters: Limiters) -> None:
    eds = key("eds", 1, 2, "eds_shared")
    assert (await limiters.first.check([eds])).allowed
    assert (await limiters.second.check([eds])).allowed
    assert not (await limiters.first.check([eds])).allowed
    assert not (await limiters.second.check([eds])).allowed


async def test_buckets_are_charged_only_when_every_enforced_one_allows(limiters: Limiters) -> None:
    tight, loose = key("user", 1, 1, "usr_1"), key("eds", 1, 5, "eds_1")
    assert (await limiters.first.check([loose, tight])).allowed  # loose 4 left, tight 0
    refused = await limiters.first.check([loose, tight])
    assert not refused.allowed and [r.policy.name for r in refused.refused_by] == ["user"]
    assert refused.results[0].allowed and refused.results[0].remaining == 4  # shown, not charged
    alone = await limiters.first.check([loose])
    assert alone.results[0].remaining == 3  # the refused request took nothing from the EDS bucket


async def test_keys_and_policies_are_independent(limiters: Limiters) -> None:
    assert (await limiters.first.check([key("user", 1, 1, "usr_1")])).allowed
    assert (await limiters.first.check([key("user", 1, 1, "usr_2")])).allowed
    assert (await limiters.first.check([key("state", 1, 1, "usr_1")])).allowed
    assert not (await limiters.first.check([key("user", 1, 1, "usr_1")])).allowed


async def test_a_shadow_policy_counts_but_never_refuses(limiters: Limiters) -> None:
    shadow, enforced = key("eds", 1, 1, shadow=True), key("user", 1, 10)
    first = await limiters.first.check([shadow, enforced])
    assert first.allowed and not first.shadow_refused_by
    for n in range(3):
        later = await limiters.first.check([shadow, enforced])
        assert later.allowed
        assert [r.policy.name for r in later.shadow_refused_by] == ["eds"]
        assert later.results[1].remaining == 10 - 2 - n  # the enforced bucket is still charged
    assert later.policy_header == '"user";q=1;w=3600'  # a dark-launched policy is not advertised
    assert later.state_header.startswith('"user";r=6;')


def test_exact_gcra_arithmetic_with_a_fake_clock() -> None:
    now = [10_000_000]
    limiter = LocalRateLimiter(clock_us=lambda: now[0])
    per_second = key("eds", 10, 2, per=1)  # 10 / s: one every 100 ms, bursts of 2
    assert limiter.decide([per_second]).results[0].remaining == 1
    second = limiter.decide([per_second]).results[0]
    assert (second.remaining, second.reset) == (0, 0.2)
    refused = limiter.decide([per_second])
    assert not refused.allowed and refused.results[0].retry_after == pytest.approx(0.1)
    assert refused.retry_after == 1.0  # Retry-After is whole seconds, rounded up
    assert refused.state_header == '"eds";r=0;t=1'
    now[0] += 100_000  # one interval later: exactly one more
    assert limiter.decide([per_second]).allowed
    assert not limiter.decide([per_second]).allowed
    now[0] += 1_000_000  # long idle: the bucket is full again, not more than full
    assert [limiter.decide([per_second]).allowed for _ in range(3)] == [True, True, False]


def test_the_degraded_fallback_divides_each_quota_among_the_replicas() -> None:
    limiter = LocalRateLimiter(divisor=3, degraded=True, clock_us=lambda: 0)
    eds = key("eds", 30, 9)
    decisions = [limiter.decide([eds]) for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert all(d.degraded for d in decisions)
    assert decisions[0].policy_header == '"eds";q=30;w=3600'  # the configured policy is what is advertised


def test_header_values() -> None:
    limiter = LocalRateLimiter(clock_us=lambda: 0)
    decision = limiter.decide([key("eds", 600, 100, per=60), key("user", 30, 10, "u", per=60)])
    assert decision.policy_header == '"eds";q=600;w=60, "user";q=30;w=60'
    assert decision.state_header == '"eds";r=99;t=1, "user";r=9;t=2'


@pytest.mark.redis
async def test_redis_unreachable_degrades_to_in_process_and_is_counted() -> None:
    dead = aioredis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.1)
    clock = [0.0]
    limiter = RedisRateLimiter(dead, "x:", timeout_seconds=0.5, retry_seconds=1.0, monotonic=lambda: clock[0])
    outages, degraded = rl_metrics.REDIS_OUTAGES._value.get(), rl_metrics.DEGRADED._value.get()
    try:
        eds = key("eds", 1, 2)
        first = await limiter.check([eds])
        assert first.allowed and first.degraded and limiter.degraded
        started = time.monotonic()
        second = await limiter.check([eds])  # within retry_seconds: Redis is not tried again
        assert time.monotonic() - started < 0.05
        assert second.allowed and second.degraded
        assert not (await limiter.check([eds])).allowed  # still limited, in-process
        assert rl_metrics.REDIS_OUTAGES._value.get() == outages + 1  # one outage, however many requests
        assert rl_metrics.DEGRADED._value.get() == degraded + 3
    finally:
        await dead.aclose()


def test_quota_text() -> None:
    assert parse_quota("600/60,burst=100,shadow") == Quota(600, 60, 100, True)
    assert parse_quota(" 600 / 60s ") == Quota(600, 60, 600, False)
    assert parse_quota("10/1, burst = 3") == Quota(10, 1, 3, False)
    assert parse_quota("off") is None and parse_quota("") is None
    for bad in ["600", "600/0", "0/60", "600/60,burst=0", "600/60,bursty=3", "a/b"]:
        with pytest.raises(QuotaSyntaxError):
            parse_quota(bad)
    assert quota_text(Quota(600, 60, 100, True)) == "600/60,burst=100,shadow"
    assert quota_text(None) == "off"


async def test_quota_book_uses_the_registry_quota_of_the_eds_else_the_defaults(tmp_path: Path) -> None:
    registry = SqliteRegistry(tmp_path / "gateway.sqlite3")
    await registry.open()
    try:
        reg = await register_client(registry)
        defaults = QuotaDefaults(
            eds=Quota(100, 60, 10), client=None, user=Quota(5, 60, 2), state=Quota(50, 60, 5, shadow=True)
        )
        book = QuotaBook(defaults, registry_eds_quota(registry))
        keys = await book.keys_for(eds_id=reg.eds_id, client_id=reg.client_id, user_id=reg.user_id, state="NV")
        assert [(k.policy.name, k.key, k.policy.rate) for k in keys] == [
            ("eds", reg.eds_id, 100),
            ("user", reg.user_id, 5),
            ("state", "NV", 50),
        ]
        await registry.set_eds_quota(reg.eds_id, Quota(7, 1, 3, shadow=True))
        keys = await book.keys_for(eds_id=reg.eds_id, client_id=reg.client_id)
        assert [(k.policy.name, k.policy.rate, k.policy.per_seconds, k.policy.shadow) for k in keys] == [
            ("eds", 7, 1, True)
        ]
        assert await book.keys_for() == []
        assert book.default_policy_header() == '"eds";q=100;w=60, "user";q=5;w=60'
    finally:
        await registry.close()
