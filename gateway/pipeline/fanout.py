"""The search stage with the interstate fan-out: our pmpdb search and the partner states' calls at the same time.

It wraps the plain ``Search`` stage (and keeps its name, ``search``): when the request goes to no partner — the
interstate exchange names none for it, it came from a partner hub (loop protection), it is a FHIR search page
(paged answers are this state's records), or it says ``NONE`` — it is exactly ``Search``. Otherwise the partner
calls start first, our search runs meanwhile, and the answers are merged (``gateway.interstate.merge``) into
``ctx.response`` with one ``SourceOutcome`` per state asked. Our own search failing fails the request (and cancels
the partner calls); a partner failing only makes the answer partial. The stages after it — minimum necessary,
alerts, audit — see the merged answer, so partner records are held to the same disclosure rules and counted in
the audit record.
"""

from __future__ import annotations

import asyncio
from typing import Final

from gateway.interstate.answer import PartnerAnswer
from gateway.interstate.merge import merge
from gateway.interstate.outbound import Interstate
from gateway.pipeline.context import RequestContext
from gateway.pipeline.runner import Stage
from protos.pmp.v1 import pmp_pb2 as pb

FANNED_OUT: Final = frozenset({"pdmp-history", "rx-history"})  # operations answered with all states' records
NOTE: Final = "interstate"


def partner_request(search: pb.SearchHistoryRequest) -> pb.SearchHistoryRequest:
    """What a partner is asked: the same person, period and requester — never a further fan-out, no paging."""
    request = pb.SearchHistoryRequest()
    request.CopyFrom(search)
    del request.states[:]
    request.page_token = ""
    request.page_size = 0
    return request


class FanOut:
    name = "search"
    state = "enabled, with the interstate fan-out (PMP_INTERSTATE)"

    def __init__(self, local: Stage, interstate: Interstate) -> None:
        self._local = local
        self._interstate = interstate

    async def __call__(self, ctx: RequestContext) -> None:
        search = ctx.search
        if ctx.operation not in FANNED_OUT or search.page_token:
            await self._local(ctx)
            return
        selection = self._interstate.select(search)
        if not selection:
            await self._local(ctx)
            return
        request = partner_request(search)
        calls = [
            asyncio.create_task(self._interstate.ask(p, request, ctx.deadline, request_id=ctx.request_id))
            for p in selection.partners
        ]
        try:
            await self._local(ctx)
        except BaseException:
            for call in calls:
                call.cancel()
            await asyncio.gather(*calls, return_exceptions=True)
            raise
        answers: list[PartnerAnswer] = [*await asyncio.gather(*calls), *selection.not_asked]
        response = ctx.response
        if response is None:  # pragma: no cover - the search stage sets it or raises
            return
        merge(
            response,
            answers,
            own_state=self._interstate.own_state,
            query=search.patient,
            max_records=self._interstate.max_partner_records,
        )
        ctx.notes[NOTE] = " ".join(f"{s.state}:{s.status}" for s in response.sources)
