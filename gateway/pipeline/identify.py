"""The identify stage: the end user a message names must be a registered, active user of the calling EDS.

The rules live in ``gateway.policy.registry.resolve``; this stage finds the EDS of the authenticated client
(``ctx.client_id``), resolves the end user, and lets the registry's role, user id and supervisor replace what the
message claimed. Notes record the registry ids only.

A partner state's hub (an EDS of kind ``partner``) names out-of-state requesters, who are not in our user registry:
its client and EDS are checked as any other, but its end user is held to that partner's inbound policy by the
``partner_policy`` stage instead (``gateway.pipeline.partner_policy``), which runs before this one.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from gateway.pipeline.context import RequestContext
from gateway.policy.registry.resolve import resolve_eds, resolve_end_user
from gateway.policy.registry.store.base import RegistryStore


class Identify:
    name = "identify"

    def __init__(self, registry: RegistryStore, today: Callable[[], date] = date.today) -> None:
        self._registry = registry
        self._today = today

    async def __call__(self, ctx: RequestContext) -> None:
        eds = await resolve_eds(self._registry, ctx.client_id)
        ctx.notes["eds"] = eds.id
        if eds.is_partner:
            ctx.notes[self.name] = "partner hub: requester held to the partner's policy"
            return
        requester = ctx.search.requester
        resolved = await resolve_end_user(self._registry, eds_id=eds.id, requester=requester, today=self._today())
        resolved.apply_to(requester)
        ctx.notes[self.name] = (
            resolved.user.id if resolved.supervisor is None else (f"{resolved.user.id} for {resolved.supervisor.id}")
        )
