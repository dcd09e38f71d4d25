"""The issued-to stage: a paging cursor or a patient id from an earlier answer may only be used by the EDS it was
issued to. The route opens them (decrypts, checks expiry) before the pipeline; this stage, after authenticate has
named the caller's EDS, runs their checks — before any search. With authentication turned off every caller is the
empty EDS, which is also whom such tokens are then issued to."""

from __future__ import annotations

from gateway.pipeline.context import RequestContext


class IssuedTo:
    name = "issued_to"

    async def __call__(self, ctx: RequestContext) -> None:
        for check in ctx.issued_to:
            check(ctx.eds_id)
        if ctx.issued_to:
            ctx.notes[self.name] = "checked"
