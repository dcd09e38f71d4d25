"""The two changes the division makes, written once for the admin API (through ``SuspensionSet``) and the CLI
(straight to the store): suspend and reinstate."""

from __future__ import annotations

from datetime import datetime

from gateway.policy.suspension.errors import SuspensionConflictError, SuspensionNotFoundError
from gateway.policy.suspension.model import Suspension, SuspensionKind, new_suspension
from gateway.policy.suspension.store import SuspensionStore


async def suspend(
    store: SuspensionStore,
    kind: SuspensionKind,
    target: object,
    *,
    reason: object,
    by: object,
    now: datetime,
    until: datetime | None = None,
) -> Suspension:
    """Record a new suspension (validated first: ``SuspensionInputError``)."""
    return await store.put(new_suspension(kind, target, reason=reason, by=by, until=until, now=now))


async def reinstate(
    store: SuspensionStore, suspension_id: str, *, by: str, reason: object, now: datetime
) -> Suspension:
    """End a suspension. ``SuspensionNotFoundError`` for an unknown id; ``SuspensionConflictError`` when it was
    already reinstated (perhaps by someone else at the same moment: the merge keeps the first)."""
    found = await store.get(suspension_id.strip())
    if found is None:
        raise SuspensionNotFoundError("no suspension with this id")
    if found.reinstated:
        raise SuspensionConflictError("the suspension was already reinstated")
    wanted = found.reinstate(by=by, reason=reason, at=now)
    stored = await store.put(wanted)
    if (stored.reinstated_at, stored.reinstated_by) != (wanted.reinstated_at, wanted.reinstated_by):
        raise SuspensionConflictError("the suspension was already reinstated")
    return stored
