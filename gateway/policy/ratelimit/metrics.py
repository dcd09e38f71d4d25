"""Prometheus counters of the rate-limit stage (no ids in labels: the policy name only)."""

from __future__ import annotations

from prometheus_client import Counter

REFUSALS = Counter(
    "pmp_gateway_rate_limit_refusals_total",
    "Requests refused by a rate-limit policy (mode=enforce) or that a shadow policy would have refused (mode=shadow)",
    ["policy", "mode"],
)
DEGRADED = Counter(
    "pmp_gateway_rate_limit_degraded_total",
    "Rate-limit decisions made by the in-process fallback because Redis was unreachable",
)
REDIS_OUTAGES = Counter(
    "pmp_gateway_rate_limit_redis_outages_total",
    "Times the rate limiter lost Redis and switched to the in-process fallback",
)
