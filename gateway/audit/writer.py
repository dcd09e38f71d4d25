"""Group commit: concurrent requests' audit records share one transaction, and each request awaits its batch.

``submit`` appends the record to the pending list and wakes the writer task; the task takes everything pending (up
to ``max_batch``) and appends it to the store in one transaction, then resolves each record's future with its
``seq`` — or with ``AuditUnavailableError`` for every record of a batch that failed. While one batch commits, the
next accumulates: under load the batches grow by themselves, and a lone request waits for one commit only (no
timer). ``record`` is ``submit`` + waiting at most ``commit_timeout`` seconds. Each batch's transaction is given
what is left of its most urgent record's time, less a margin, to wait for the database lock and commit (SQLite's
busy timeout, an asyncio timeout on PostgreSQL): a batch that cannot commit in time is rolled back, so a request
refused for a slow audit store is not recorded as answered. Only a commit that is already under way when its
waiters give up (a slow fsync) can leave a record of an answer that was refused — never the reverse.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Protocol, TypeAlias

from gateway.audit.errors import AuditUnavailableError
from gateway.audit.record import AuditRecord
from gateway.audit.store.base import AuditStore
from gateway.metrics import AUDIT_BATCH_RECORDS, AUDIT_COMMIT_SECONDS

log = logging.getLogger("pmp.audit")

DEFAULT_MAX_BATCH = 256
DEFAULT_COMMIT_TIMEOUT = 2.0
MAX_MARGIN = 0.5  # a batch's transaction ends this long (at most a quarter of the timeout) before its first waiter


Entry: TypeAlias = tuple[AuditRecord, "asyncio.Future[int]", float]  # the record, its waiter, its deadline


def consume(future: asyncio.Future[int]) -> None:
    """Mark a future's exception as seen: a waiter that timed out or was cancelled will never read it."""
    if not future.cancelled():
        future.exception()


class RecordWriter(Protocol):
    """What the pipeline and the admin routes need of a writer: ``AuditWriter`` in process, or
    ``gateway.audit.relay.RelayAuditWriter`` handing records to the one writer of the host."""

    @property
    def running(self) -> bool: ...

    async def start(self) -> None: ...

    async def stop(self, drain_seconds: float = 10.0) -> None: ...

    def submit(self, record: AuditRecord) -> asyncio.Future[int]: ...

    async def record(self, record: AuditRecord) -> int: ...


class AuditWriter:
    """The one writer of a process's audit records. ``start`` in the running loop, ``stop`` to drain."""

    def __init__(
        self,
        store: AuditStore,
        *,
        max_batch: int = DEFAULT_MAX_BATCH,
        commit_timeout: float = DEFAULT_COMMIT_TIMEOUT,
    ) -> None:
        if max_batch < 1 or commit_timeout <= 0:
            raise ValueError("max_batch must be positive and commit_timeout above zero")
        self.store = store
        self.max_batch = max_batch
        self.commit_timeout = commit_timeout
        self._pending: list[Entry] = []
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._accepting = False
        self.batches = 0  # transactions attempted
        self.committed = 0  # records committed
        self.failed = 0  # records whose batch failed

    @property
    def running(self) -> bool:
        return self._accepting and self._task is not None and not self._task.done()

    async def start(self) -> None:
        if self._task is not None:
            raise RuntimeError("the audit writer is already started")
        self._wake = asyncio.Event()
        self._accepting = True
        self._task = asyncio.create_task(self._run(), name="audit-writer")

    async def stop(self, drain_seconds: float = 10.0) -> None:
        """Refuse new records, commit those pending (for at most ``drain_seconds``), then end the task."""
        self._accepting = False
        task, self._task = self._task, None
        if task is None:
            return
        assert self._wake is not None
        self._wake.set()
        try:
            await asyncio.wait_for(asyncio.shield(task), drain_seconds)
        except TimeoutError:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        self._fail(self._pending, "the audit writer stopped")
        self._pending = []

    def submit(self, record: AuditRecord) -> asyncio.Future[int]:
        """Queue ``record``; the future resolves to its ``seq`` once its batch commits."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[int] = loop.create_future()
        future.add_done_callback(consume)
        if not self.running:
            future.set_exception(AuditUnavailableError("the audit writer is not running"))
            return future
        assert self._wake is not None
        self._pending.append((record, future, loop.time() + self.commit_timeout))
        self._wake.set()
        return future

    async def record(self, record: AuditRecord) -> int:
        """Queue ``record`` and wait until it is committed: its ``seq``. ``AuditUnavailableError`` if the store
        failed or did not commit within ``commit_timeout``. Cancelling the waiter does not withdraw the record."""
        future = self.submit(record)  # cancelling it (timeout, cancelled waiter) leaves the record in its batch
        try:
            async with asyncio.timeout(self.commit_timeout):
                return await future
        except TimeoutError:
            raise AuditUnavailableError("the audit store did not commit in time") from None

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                batch = self._pending[: self.max_batch]
                del self._pending[: self.max_batch]
                await self._commit(batch)
            if not self._accepting:
                return

    async def _commit(self, batch: Sequence[Entry]) -> None:
        # The transaction must give up before the first of its waiters does: a request refused for a slow audit
        # store must not be recorded as answered by a batch that commits after all.
        budget = min(deadline for _, _, deadline in batch) - asyncio.get_running_loop().time()
        budget -= min(self.commit_timeout / 4, MAX_MARGIN)
        if budget <= 0:
            self._fail(batch, "the audit store did not commit in time")
            return
        self.batches += 1
        AUDIT_BATCH_RECORDS.observe(len(batch))
        started = asyncio.get_running_loop().time()
        try:
            seqs = await self.store.append([record for record, _, _ in batch], within=budget)
        except asyncio.CancelledError:
            self._fail(batch, "the audit writer stopped")
            raise
        except AuditUnavailableError as exc:
            log.warning("audit batch failed", extra={"records": len(batch), "error": str(exc)})
            self._fail(batch, str(exc))
        except Exception as exc:  # a bug must not stop the writer: the batch's requests are refused instead
            log.error("audit batch failed", extra={"records": len(batch), "error": type(exc).__name__})
            self._fail(batch, f"audit write failed: {type(exc).__name__}")
        else:
            AUDIT_COMMIT_SECONDS.observe(asyncio.get_running_loop().time() - started)
            self.committed += len(batch)
            for (_, future, _), seq in zip(batch, seqs, strict=True):
                if not future.done():
                    future.set_result(seq)

    def _fail(self, batch: Sequence[Entry], reason: str) -> None:
        self.failed += len(batch)
        for _, future, _ in batch:
            if not future.done():
                future.set_exception(AuditUnavailableError(reason))
