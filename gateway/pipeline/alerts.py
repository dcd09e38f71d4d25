"""The alerts stage (DESIGN §1 step 8): clinical indicators reach only the roles that may see them.

pmpdb computes the indicators next to the data, in the search's round trip (``pmpdb.indicators``); this stage
computes nothing. It passes them through to clinical roles — prescribers, pharmacists and their delegates, who
query for treatment — and, for every other role, clears them: the response's ``indicators`` and ``alerts`` and
each dispensation's ``mme_per_day`` / ``lme_per_day``. A law-enforcement or regulatory disclosure is the
dispensation record, not a clinical opinion about the patient. It runs after minimum necessary, which must list
``mme_per_day`` and ``lme_per_day`` among the disclosed fields for the roles below (else it clears them first).
"""

from __future__ import annotations

from typing import Final

from gateway.pipeline.context import RequestContext
from protos.pmp.v1 import pmp_pb2 as pb

CLINICAL_ROLES: Final = frozenset(
    {pb.ROLE_PRESCRIBER, pb.ROLE_PHARMACIST, pb.ROLE_LICENSED_DELEGATE, pb.ROLE_UNLICENSED_DELEGATE}
)
_AMOUNTS: Final = ("mme_per_day", "lme_per_day")


class Alerts:
    name = "alerts"

    def __init__(self, roles: frozenset[pb.Role.ValueType] = CLINICAL_ROLES) -> None:
        self._roles = roles

    @property
    def state(self) -> str:
        """For /readyz: turned off, the stage still runs — to withhold indicators from everyone."""
        return "enabled" if self._roles else "withholding indicators from every role (PMP_ALERTS=false)"

    async def __call__(self, ctx: RequestContext) -> None:
        response = ctx.response
        if response is None:
            return
        if ctx.search.requester.role in self._roles:
            ctx.notes[self.name] = ",".join(a.code for a in response.alerts) or "none"
            return
        response.ClearField("indicators")
        del response.alerts[:]
        for dispensation in response.dispensations:
            for name in _AMOUNTS:
                dispensation.ClearField(name)
        ctx.notes[self.name] = "withheld"
