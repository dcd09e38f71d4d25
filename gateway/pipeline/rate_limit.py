"""The rate-limit stage, and the middleware that puts its header values on every response.

The stage charges the request to its buckets (``gateway.policy.ratelimit.quotas``: EDS, client, end user, partner
state) in one limiter call — one Redis round trip, or none in-process — and refuses with RATE_LIMITED (429; FHIR
``throttled``, NCPDP Error 600 with the retry time) and ``retry_after`` = the seconds until every refusing bucket
allows it. A shadow policy never refuses; it is counted (``pmp_gateway_rate_limit_refusals_total{mode="shadow"}``).

Headers (draft-ietf-httpapi-ratelimit-headers-10), added by ``rate_limit_headers`` (an aiohttp middleware, placed
*outside* the app's error-rendering middleware so it sees error responses too) on the protocol routes:

- ``RateLimit-Policy: "eds";q=6000;w=60, "user";q=300;w=60`` — on every response (the default policies when the
  stage was not reached, e.g. a 401);
- ``RateLimit: "eds";r=599;t=6, "user";r=59;t=12`` — when the stage decided (``t``: seconds until the quota is whole
  again, or until the next request is allowed when none is left);
- ``Retry-After`` with a 429 comes from the error (``PmpError.retry_after``, whole seconds, never earlier than ``t``).
"""

from __future__ import annotations

from collections.abc import Sequence

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from gateway.pipeline.context import RequestContext
from gateway.policy.ratelimit import headers, metrics
from gateway.policy.ratelimit.build import RateLimiter
from gateway.policy.ratelimit.quotas import QuotaBook
from protos.errors import PmpError
from protos.pmp.v1 import pmp_pb2 as pb

PROTOCOL_PREFIXES = ("/fhir", "/ncpdp", "/interstate")


class RateLimit:
    name = "rate_limit"

    def __init__(self, limiter: RateLimiter, quotas: QuotaBook) -> None:
        self._limiter = limiter
        self._quotas = quotas

    async def __call__(self, ctx: RequestContext) -> None:
        requester = ctx.search.requester
        keys = await self._quotas.keys_for(
            eds_id=ctx.eds_id, client_id=ctx.client_id, user_id=requester.user_id, state=requester.state
        )
        if not keys:
            return
        decision = await self._limiter.check(keys)
        holder = headers.current()
        if holder is not None:
            holder.record(decision)
        for result in decision.shadow_refused_by:
            metrics.REFUSALS.labels(result.policy.name, "shadow").inc()
        if decision.degraded:
            ctx.notes[self.name] = "degraded"
        if decision.allowed:
            return
        refused = decision.refused_by
        for result in refused:
            metrics.REFUSALS.labels(result.policy.name, "enforce").inc()
        names = ", ".join(r.policy.name for r in refused)
        ctx.notes[self.name] = f"limited {names}"
        retry = decision.retry_after
        raise PmpError(
            pb.ERROR_CODE_RATE_LIMITED,
            f"rate limit exceeded ({names})",
            retry_after=retry,  # each protocol says when
        )


def rate_limit_headers(default_policy: str, prefixes: Sequence[str] = PROTOCOL_PREFIXES) -> Middleware:
    """The middleware (see the module docstring). ``default_policy``: ``QuotaBook.default_policy_header()``."""
    starts = tuple(prefixes)

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith(starts):
            return await handler(request)
        holder, token = headers.install()
        try:
            response = await handler(request)
        finally:
            headers.uninstall(token)
        if not response.prepared:
            policy = holder.policy or default_policy
            if policy:
                response.headers[headers.POLICY] = policy
            if holder.state:
                response.headers[headers.STATE] = holder.state
        return response

    return middleware
