"""Distributed rate limits (issue 6): GCRA per EDS, OAuth client, end user and partner state.

- ``model``: quotas as named policies, the buckets a request is charged to, the decision and its header values
  (draft-ietf-httpapi-ratelimit-headers-10).
- ``gcra``: the algorithm, once, in integer microseconds.
- ``local``: the in-process limiter; ``redis``: one atomic Lua script per request, degrading to in-process.
- ``quotas``: which buckets and quotas apply (the registry's per-EDS quota, settings defaults).
- ``headers``: how header values reach every response.
"""

from gateway.policy.ratelimit.build import RateLimitConfig, RateLimiter, make_quota_book, make_rate_limiter
from gateway.policy.ratelimit.local import LocalRateLimiter
from gateway.policy.ratelimit.model import (
    Decision,
    LimitKey,
    LimitResult,
    Policy,
    QuotaSyntaxError,
    parse_quota,
    policy_of,
    quota_text,
)
from gateway.policy.ratelimit.quotas import QuotaBook, QuotaDefaults, registry_eds_quota
from gateway.policy.ratelimit.redis import RedisRateLimiter

__all__ = [
    "Decision",
    "LimitKey",
    "LimitResult",
    "LocalRateLimiter",
    "Policy",
    "QuotaBook",
    "QuotaDefaults",
    "QuotaSyntaxError",
    "RateLimitConfig",
    "RateLimiter",
    "RedisRateLimiter",
    "make_quota_book",
    "make_rate_limiter",
    "parse_quota",
    "policy_of",
    "quota_text",
    "registry_eds_quota",
]
