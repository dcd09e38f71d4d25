"""``SuspensionSet``: this process's copy of the suspensions, the one the request path reads.

``is_suspended`` is a dictionary lookup with no I/O. A background task keeps the copy confirmed:

- on every push from the store (Redis pub/sub: a change message → check the version, re-read if it moved);
- on every (re)subscribe → reconcile the store and re-read in full (messages sent while disconnected are lost);
- every ``check_seconds`` (default 0.5 s) → one cheap version check, re-read when it moved. This bounds how late a
  change is seen when pushes are lost, and is the only path for polled stores (the gateway database: a CLI change
  reaches a running ``serve`` within ``check_seconds``).

Each successful check *confirms* the copy. If it has not been confirmed for ``max_staleness_seconds`` (default 5 s:
Redis or the database unreachable), ``is_suspended`` raises ``SuspensionStateUnavailable`` and the pipeline refuses
the query with 503 rather than serve a client that may have been suspended meanwhile. Checks keep running, so the
process recovers by itself once the store answers. Transitions are logged once each way.

Writes (``suspend``, ``reinstate``) go to the store and are applied here at once, so the replica that made the change
never serves the suspended party again, even before its next check.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

from gateway.policy.suspension import actions
from gateway.policy.suspension.errors import SuspensionStateUnavailable, SuspensionUnavailableError
from gateway.policy.suspension.model import Suspension, SuspensionKind
from gateway.policy.suspension.store import Snapshot, SuspensionStore

log = logging.getLogger("pmp.suspension")


def _now() -> datetime:
    return datetime.now(UTC)


Index = dict[tuple[SuspensionKind, str], tuple[Suspension, ...]]


def _index(records: tuple[Suspension, ...]) -> Index:
    index: dict[tuple[SuspensionKind, str], list[Suspension]] = {}
    for record in records:
        if not record.reinstated:
            index.setdefault((record.kind, record.target), []).append(record)
    return {key: tuple(found) for key, found in index.items()}


class SuspensionSet:
    """See the module docstring. Lifecycle: ``await start()`` before serving (never raises for an unreachable
    store: the set then starts unconfirmed and refuses until it is confirmed), ``await aclose()`` at shutdown."""

    def __init__(
        self,
        store: SuspensionStore,
        *,
        check_seconds: float = 0.5,
        max_staleness_seconds: float = 5.0,
        call_timeout_seconds: float = 2.0,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._check_seconds = check_seconds
        self._max_staleness = max_staleness_seconds
        self._call_timeout = call_timeout_seconds
        self._clock = clock
        self._monotonic = monotonic
        self._index: Index = {}
        self._records: tuple[Suspension, ...] = ()
        self._version: int | None = None
        self._loaded = False
        self._confirmed_at = float("-inf")
        self._healthy = True
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.resyncs = 0  # full re-reads after a (re)subscribe: for tests and /readyz

    @property
    def store(self) -> SuspensionStore:
        return self._store

    @property
    def max_staleness_seconds(self) -> float:
        return self._max_staleness

    # ---- the request path

    def is_suspended(
        self, *, eds_id: str = "", client_id: str = "", user_id: str = "", state: str = ""
    ) -> Suspension | None:
        """The suspension in force that covers any of the parties named ("" = not named), else None. Raises
        ``SuspensionStateUnavailable`` when the copy is older than the staleness bound."""
        if self._monotonic() - self._confirmed_at > self._max_staleness:
            raise SuspensionStateUnavailable("the suspension list could not be confirmed recently")
        index = self._index
        if not index:
            return None
        now = -1.0
        for key in (
            (SuspensionKind.EDS, eds_id),
            (SuspensionKind.CLIENT, client_id),
            (SuspensionKind.USER, user_id),
            (SuspensionKind.STATE, state),
        ):
            if not key[1]:
                continue
            found = index.get(key)
            if found:
                if now < 0:
                    now = self._clock()
                for record in found:
                    if record.in_force(now):
                        return record
        return None

    def confirmed_age(self) -> float:
        """Seconds since the copy was last confirmed (``inf`` before the first confirmation)."""
        return self._monotonic() - self._confirmed_at

    def current(self) -> list[Suspension]:
        """The suspensions in force in this process's copy (no I/O)."""
        now = self._clock()
        return [r for r in self._records if r.in_force(now)]

    # ---- keeping the copy confirmed

    def _install(self, snapshot: Snapshot) -> None:
        self._index = _index(snapshot.suspensions)
        self._records = snapshot.suspensions
        self._version = snapshot.version
        self._loaded = True

    async def refresh(self, *, full: bool = False) -> None:
        """Confirm the copy: check the version and re-read when it moved (``full``: reconcile and re-read anyway).
        Raises ``SuspensionUnavailableError`` (or ``TimeoutError``) when the store does not answer."""
        async with asyncio.timeout(self._call_timeout):
            if full:
                try:
                    await self._store.reconcile()
                except SuspensionUnavailableError:
                    # The journal (or Redis) did not answer: re-pushing waits for the next resync. The snapshot below
                    # still decides — and fails if Redis is down, or lost its data while the journal is away.
                    log.debug("suspension reconcile failed", exc_info=True)
                self.resyncs += 1
            version = None if full else await self._store.version()
            if full or not self._loaded or version is None or version != self._version:
                self._install(await self._store.snapshot())
        self._confirmed_at = self._monotonic()
        if not self._healthy:
            self._healthy = True
            log.warning("suspension list confirmed again", extra={"version": self._version})

    def _failed(self, exc: BaseException) -> None:
        if self._healthy:
            self._healthy = False
            log.warning(
                "suspension list cannot be confirmed; queries are refused once it is older than the bound",
                extra={"error": type(exc).__name__, "bound_seconds": self._max_staleness},
            )

    async def _follow(self) -> None:
        feed = self._store.feed()
        if feed is None:
            while not self._closing:
                await asyncio.sleep(self._check_seconds)
                await self.refresh()
            return
        async with feed:
            while not self._closing:
                signal = await feed.wait(seconds=self._check_seconds)
                await self.refresh(full=signal == "resync")

    async def _run(self) -> None:
        while not self._closing:
            try:
                await self._follow()
            except asyncio.CancelledError:
                raise
            except (SuspensionUnavailableError, TimeoutError) as exc:
                self._failed(exc)
            except Exception as exc:  # a bug must not stop the checks: the set would fail closed for good
                log.exception("suspension refresh failed")
                self._failed(exc)
            await asyncio.sleep(min(self._check_seconds, 1.0))

    async def start(self) -> None:
        try:
            await self.refresh(full=True)
        except (SuspensionUnavailableError, TimeoutError) as exc:
            self._failed(exc)
        self._task = asyncio.create_task(self._run(), name="suspension-refresh")

    async def aclose(self) -> None:
        self._closing = True
        task, self._task = self._task, None
        while task is not None and not task.done():
            # redis-py's reads run under asyncio.timeout, which can absorb a cancellation that lands as it expires:
            # cancel again until the task has stopped (the loop also checks ``_closing``).
            task.cancel()
            await asyncio.wait({task}, timeout=0.1)
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # ---- admin writes

    async def _apply_written(self, record: Suspension) -> None:
        with contextlib.suppress(SuspensionUnavailableError, TimeoutError):
            await self.refresh(full=False)
        if self._loaded and all(r.id != record.id for r in self._records) and not record.reinstated:
            self._records = (*self._records, record)
            self._index = _index(self._records)
        elif record.reinstated:
            self._records = tuple(r for r in self._records if r.id != record.id)
            self._index = _index(self._records)

    async def suspend(
        self, kind: SuspensionKind, target: object, *, reason: object, by: object, until: datetime | None = None
    ) -> Suspension:
        """Record a new suspension (validated; ``SuspensionInputError`` otherwise) and apply it here at once."""
        stored = await actions.suspend(self._store, kind, target, reason=reason, by=by, until=until, now=_now())
        await self._apply_written(stored)
        return stored

    async def reinstate(self, suspension_id: str, *, by: str, reason: object) -> Suspension:
        """End a suspension now and apply that here at once (see ``actions.reinstate`` for the refusals)."""
        stored = await actions.reinstate(self._store, suspension_id, by=by, reason=reason, now=_now())
        await self._apply_written(stored)
        return stored

    async def history(self, limit: int = 1000) -> list[Suspension]:
        return await self._store.history(limit)
