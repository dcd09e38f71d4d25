"""The minimum-necessary stage: only the fields the requester's role may see leave the gateway.

Also: an ambiguous match discloses no candidate's demographics — only that a manual review is needed.
"""

from __future__ import annotations

from gateway.pipeline.context import RequestContext
from gateway.policy.disclosure import WITHHELD_FIELDS
from protos.pmp.v1 import pmp_pb2 as pb


class MinimumNecessary:
    name = "minimum_necessary"

    async def __call__(self, ctx: RequestContext) -> None:
        response = ctx.response
        if response is None:
            return
        if response.match_status != pb.MATCH_STATUS_FOUND:
            del response.patients[:]
            del response.dispensations[:]
            return
        withheld = WITHHELD_FIELDS.get(ctx.search.requester.role, ())
        if withheld:
            for dispensation in response.dispensations:
                for name in withheld:
                    dispensation.ClearField(name)  # type: ignore[arg-type]
