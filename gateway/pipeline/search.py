"""The search stage: one pmpdb call with what is left of the request's budget as its deadline."""

from __future__ import annotations

from gateway.backend import SearchBackend
from gateway.pipeline.context import RequestContext


class Search:
    name = "search"

    def __init__(self, backend: SearchBackend) -> None:
        self._backend = backend

    async def __call__(self, ctx: RequestContext) -> None:
        ctx.search.request_id = ctx.request_id
        ctx.response = await self._backend.search_history(ctx.search, time_left=ctx.deadline.call_timeout())
