"""The partner directory the pipeline reads: ``PartnerDirectory`` over the registry.

Its reads are synchronous dictionary lookups of a snapshot; ``refresh()`` brings the snapshot up to date through
the registry's cached read (``RegistryStore.partners_snapshot``), which costs no query until the registry changes —
SQLite's ``data_version``, exact; PostgreSQL's cached reads live at most a second — exactly like the client and
user lookups of the identify stage. The ``partner_policy`` stage refreshes it at the start of every request, so the
stages after it (the outbound fan-out included) read a current copy without I/O; ``Services.lifecycle`` refreshes
it once at start-up.
"""

from __future__ import annotations

from collections.abc import Sequence

from gateway.interstate.partners import Partner
from gateway.policy.registry.store.base import RegistryStore


class RegistryPartnerDirectory:
    """``gateway.interstate.partners.PartnerDirectory`` backed by the registry's ``partner`` table."""

    def __init__(self, registry: RegistryStore) -> None:
        self._registry = registry
        self._source: tuple[Partner, ...] | None = None
        self._by_state: dict[str, Partner] = {}
        self._by_eds: dict[str, Partner] = {}
        self._outbound: tuple[Partner, ...] = ()

    async def refresh(self) -> None:
        """Re-read the partners if the registry changed (``RegistryUnavailableError`` if it cannot be read)."""
        partners = await self._registry.partners_snapshot()
        if partners is self._source:
            return
        self._by_state = {p.state: p for p in partners}
        self._by_eds = {p.eds_id: p for p in partners}
        self._outbound = tuple(p for p in partners if p.active and p.outbound is not None and p.outbound.enabled)
        self._source = partners

    def partner(self, state: str) -> Partner | None:
        return self._by_state.get(state.strip().upper())

    def partner_for_eds(self, eds_id: str) -> Partner | None:
        return self._by_eds.get(eds_id) if eds_id else None

    def outbound_partners(self) -> Sequence[Partner]:
        return self._outbound
