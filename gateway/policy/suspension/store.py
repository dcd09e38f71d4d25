"""Where suspensions live: the store contract, and the in-memory backend (tests, one process, nothing durable).

Every backend keeps all records (history) and a version number that changes with every change that matters;
writes are one idempotent *merge* (``put``): a new id is added, a reinstatement of a record not yet reinstated is
recorded, anything else changes nothing. Merging cannot lose a reinstatement and two writers cannot undo each
other, so the Redis backend can re-push the durable journal at any time (``reconcile``).

Backends: ``MemorySuspensionStore`` (here), ``SqliteSuspensionStore`` / ``PostgresSuspensionStore`` (the gateway
database: the embedded default's truth, and the durable journal behind Redis), ``RedisSuspensionStore`` (the
versioned, pushed truth every replica reads).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import TracebackType
from typing import Literal, Protocol

from gateway.policy.suspension.model import Suspension

Signal = Literal["resync", "changed"]


@dataclass(slots=True, frozen=True)
class Snapshot:
    """The records not reinstated (some may have expired: readers check ``in_force``) at one ``version``."""

    version: int | None
    suspensions: tuple[Suspension, ...]


class ChangeFeed(Protocol):
    """Push notifications of a store (Redis pub/sub). Entered = subscribed."""

    async def __aenter__(self) -> ChangeFeed: ...

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    async def wait(self, *, seconds: float) -> Signal | None:
        """``"resync"`` after every (re)subscription, ``"changed"`` on a change message, ``None`` after ``seconds``
        of silence. Raises ``SuspensionUnavailableError`` when the connection is lost."""
        ...


class SuspensionStore(Protocol):
    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def put(self, record: Suspension) -> Suspension:
        """Merge ``record`` (see the module docstring); the record as stored afterwards. A change bumps the version
        (and notifies, where the backend pushes)."""
        ...

    async def get(self, suspension_id: str) -> Suspension | None: ...

    async def version(self) -> int | None:
        """The current version (cheap: the periodic check calls it). ``None``: the store has none yet."""
        ...

    async def snapshot(self) -> Snapshot: ...

    async def history(self, limit: int = 1000) -> list[Suspension]:
        """All records, newest first, at most ``limit``."""
        ...

    async def reconcile(self) -> None:
        """Bring a derived copy back in line with the durable one (Redis from the journal); no-op elsewhere."""
        ...

    def feed(self) -> ChangeFeed | None:
        """A push feed, or ``None`` when the store is only polled."""
        ...


def merge(stored: Suspension | None, record: Suspension) -> Suspension | None:
    """What ``put`` writes: ``record`` when it is new, or reinstates a stored record not yet reinstated; else None."""
    if stored is None:
        return record
    if record.reinstated and not stored.reinstated:
        return record
    return None


class MemorySuspensionStore:
    """Suspensions in this process only (tests; a throwaway gateway). Nothing survives a restart."""

    def __init__(self) -> None:
        self._records: dict[str, Suspension] = {}
        self._version = 0

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def put(self, record: Suspension) -> Suspension:
        stored = self._records.get(record.id)
        merged = merge(stored, record)
        if merged is None:
            assert stored is not None
            return stored
        self._records[record.id] = merged
        self._version += 1
        return merged

    async def get(self, suspension_id: str) -> Suspension | None:
        return self._records.get(suspension_id)

    async def version(self) -> int | None:
        return self._version

    async def snapshot(self) -> Snapshot:
        return Snapshot(self._version, tuple(r for r in self._records.values() if not r.reinstated))

    async def history(self, limit: int = 1000) -> list[Suspension]:
        return sorted(self._records.values(), key=lambda r: (r.at, r.id), reverse=True)[:limit]

    async def reconcile(self) -> None:
        return None

    def feed(self) -> ChangeFeed | None:
        return None
