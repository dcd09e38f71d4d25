"""The identify stage: the end user a message names must be a registered, active user of the calling EDS.

The rules live in ``gateway.policy.registry.resolve``; this stage finds the EDS of the authenticated client
(``ctx.client_id``), resolves the end user, and lets the registry's role, user id and supervisor replace what the
message claimed. Notes record the registry ids only.
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
        requester = ctx.search.requester
        resolved = await resolve_end_user(self._registry, eds_id=eds.id, requester=requester, today=self._today())
        resolved.apply_to(requester)
        ctx.notes["eds"] = eds.id
        ctx.notes[self.name] = (
            resolved.user.id if resolved.supervisor is None else (f"{resolved.user.id} for {resolved.supervisor.id}")
        )
