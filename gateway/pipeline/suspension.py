"""The suspension stage: a suspended EDS, OAuth client, end user or partner state is refused — every request, so a
suspended client's unexpired tokens stop working at once.

Reads the process's ``SuspensionSet`` (a dictionary lookup, no I/O) for ``ctx.eds_id`` and ``ctx.client_id`` (set by
authenticate), the registry user id ``ctx.search.requester.user_id`` (set by identify: one id whatever EDS names the
user) and the requesting state ``ctx.search.requester.state`` (interstate). Refusals:

- SUSPENDED (403; FHIR ``suspended``, NCPDP Error 900): "the <EDS | OAuth client | end user | partner state> is
  suspended" — never the id or the division's reason;
- BACKEND_UNAVAILABLE (503, ``Retry-After: 1``) when the set could not be confirmed within its staleness bound
  (fail closed).
"""

from __future__ import annotations

import logging

from prometheus_client import Counter

from gateway.pipeline.context import RequestContext
from gateway.policy.suspension.errors import SuspensionStateUnavailable
from gateway.policy.suspension.live import SuspensionSet
from protos.errors import PmpError
from protos.pmp.v1 import pmp_pb2 as pb

log = logging.getLogger("pmp.suspension")

REFUSALS = Counter(
    "pmp_gateway_suspension_refusals_total",
    "Requests refused by the suspension stage: a suspended party (reason=suspended) or an unconfirmed set "
    "(reason=unconfirmed, fail closed)",
    ["reason"],
)
_SUSPENDED = REFUSALS.labels("suspended")
_UNCONFIRMED = REFUSALS.labels("unconfirmed")
UNCONFIRMED_DETAIL = "the suspension list cannot be confirmed; try again shortly"


class SuspensionCheck:
    name = "suspension"

    def __init__(self, suspensions: SuspensionSet) -> None:
        self._suspensions = suspensions

    async def __call__(self, ctx: RequestContext) -> None:
        requester = ctx.search.requester
        try:
            found = self._suspensions.is_suspended(
                eds_id=ctx.eds_id, client_id=ctx.client_id, user_id=requester.user_id, state=requester.state
            )
        except SuspensionStateUnavailable:
            _UNCONFIRMED.inc()
            ctx.notes[self.name] = "unconfirmed"
            raise PmpError(pb.ERROR_CODE_BACKEND_UNAVAILABLE, UNCONFIRMED_DETAIL, retry_after=1.0) from None
        if found is not None:
            _SUSPENDED.inc()
            ctx.notes[self.name] = f"{found.kind.value} {found.id}"
            log.info(
                "request refused: suspended",
                extra={"request_id": ctx.request_id, "suspension": found.id, "kind": found.kind.value},
            )
            raise PmpError(pb.ERROR_CODE_SUSPENDED, f"the {found.kind.noun} is suspended")
