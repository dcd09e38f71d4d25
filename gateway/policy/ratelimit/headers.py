"""How the rate-limit stage's header values reach the response, whatever the response is (a 200 from the route, a
429 or any other error rendered by the app's middleware, which never sees the ``RequestContext``).

An aiohttp middleware (``gateway.pipeline.rate_limit.rate_limit_headers``) puts a fresh ``RateLimitHeaders`` in a
context variable for each request; the stage, running in the same task, fills it; the middleware copies it onto the
response: ``RateLimit-Policy`` always (the defaults when the stage was not reached), ``RateLimit`` when the stage
decided. Without the middleware (unit tests), ``current()`` is None and the stage only decides.
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass

from gateway.policy.ratelimit.model import Decision

POLICY = "RateLimit-Policy"
STATE = "RateLimit"


@dataclass(slots=True)
class RateLimitHeaders:
    policy: str = ""
    state: str = ""

    def record(self, decision: Decision) -> None:
        self.policy = decision.policy_header
        self.state = decision.state_header


_CURRENT: contextvars.ContextVar[RateLimitHeaders | None] = contextvars.ContextVar(
    "pmp_rate_limit_headers", default=None
)


def current() -> RateLimitHeaders | None:
    """The holder of this request (None outside the middleware)."""
    return _CURRENT.get()


def install() -> tuple[RateLimitHeaders, contextvars.Token[RateLimitHeaders | None]]:
    holder = RateLimitHeaders()
    return holder, _CURRENT.set(holder)


def uninstall(token: contextvars.Token[RateLimitHeaders | None]) -> None:
    _CURRENT.reset(token)
