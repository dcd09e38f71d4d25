"""SQLite audit store: the embedded default, ``<data_dir>/audit.sqlite3``.

Its own file, not the registry's ``gateway.sqlite3``: the registry caches its reads until ``PRAGMA data_version``
moves, which every commit by another connection does — audit batches committing beside it would empty that cache
many times a second. And registry writes would queue behind audit batches for the one SQLite write lock.

Durability: WAL with ``synchronous=FULL`` (the default here): each commit fsyncs the WAL, so a record survives
a power loss once ``append`` returns — which is what "durably recorded before any byte is sent" asks. ``NORMAL`` in
WAL survives a crash of the process but may lose the last commits on a power loss or OS crash; it is offered for
hosts whose disk cache is battery-backed. Group commit pays the fsync once per batch.

A batch waits for the write lock at most what its most urgent waiter has left (``append(within=…)`` sets the busy
timeout per batch), then fails and rolls back.

Threads: the two write transactions run on one writer thread (its own connection), so the fsync never blocks the
event loop and records that arrive meanwhile form the next batch; reads (verify, reports) run on a reader thread
with a second connection (WAL: readers do not block the writer). Several processes share the file: ``BEGIN
IMMEDIATE`` takes the write lock before the chain head is read, so their appends form one chain.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal, TypeVar

from gateway.audit.errors import AuditUnavailableError
from gateway.audit.record import AuditRecord
from gateway.audit.store import schema as sql
from gateway.audit.store.base import (
    AuditStore,
    PurgePlan,
    PurgeResult,
    Row,
    Statement,
    first_kept,
    link,
    purge_plan,
)
from gateway.sqlite_file import connect, open_with_schema

FILE_NAME = "audit.sqlite3"
T = TypeVar("T")


class SqliteAuditStore(AuditStore):
    """The audit trail in one SQLite file."""

    def __init__(
        self, path: Path, *, synchronous: Literal["FULL", "NORMAL"] = "FULL", busy_timeout_ms: int = 2000
    ) -> None:
        self._path = path
        self._synchronous = synchronous
        self._busy_timeout_ms = busy_timeout_ms
        self._writer: sqlite3.Connection | None = None
        self._reader: sqlite3.Connection | None = None
        self._write_thread: ThreadPoolExecutor | None = None
        self._read_thread: ThreadPoolExecutor | None = None

    @property
    def path(self) -> Path:
        return self._path

    async def open(self) -> None:
        try:
            ddl = (d.replace("{seq}", "INTEGER") for d in (*sql.TABLES, *sql.SQLITE_TRIGGERS))
            synchronous, busy = str(self._synchronous), int(self._busy_timeout_ms)
            writer = open_with_schema(self._path, ddl, synchronous=synchronous, busy_timeout_ms=busy)
            try:
                reader = connect(self._path, synchronous=synchronous, busy_timeout_ms=busy)
            except BaseException:
                writer.close()
                raise
        except (sqlite3.Error, OSError) as exc:
            raise AuditUnavailableError(f"cannot open the SQLite audit store: {type(exc).__name__}") from exc
        self._writer, self._reader = writer, reader
        self._write_thread = ThreadPoolExecutor(1, thread_name_prefix="audit-write")
        self._read_thread = ThreadPoolExecutor(1, thread_name_prefix="audit-read")

    async def close(self) -> None:
        writer, reader = self._writer, self._reader
        threads = (self._write_thread, self._read_thread)
        self._writer = self._reader = None
        self._write_thread = self._read_thread = None
        loop = asyncio.get_running_loop()
        for thread, conn in zip(threads, (writer, reader), strict=True):
            if thread is not None and conn is not None:
                await loop.run_in_executor(thread, conn.close)  # after the work already queued on that thread
            if thread is not None:
                thread.shutdown(wait=False)

    async def _on(self, thread: ThreadPoolExecutor | None, work: Callable[[], T]) -> T:
        if thread is None:
            raise AuditUnavailableError("the audit store is not open")
        try:
            return await asyncio.get_running_loop().run_in_executor(thread, work)
        except (sqlite3.Error, OSError) as exc:
            raise AuditUnavailableError(f"audit store failed: {type(exc).__name__}") from exc
        except RuntimeError as exc:  # the executor was shut down under us (closing)
            raise AuditUnavailableError("the audit store is closed") from exc

    def _conn(self, conn: sqlite3.Connection | None) -> sqlite3.Connection:
        if conn is None:
            raise AuditUnavailableError("the audit store is not open")
        return conn

    async def _fetch(self, statement: str, *args: Any) -> list[Row]:
        def read() -> list[Row]:
            return self._conn(self._reader).execute(statement, args).fetchall()

        return await self._on(self._read_thread, read)

    def _transaction(self, body: Callable[[sqlite3.Connection], T], *, busy_timeout_ms: int | None = None) -> T:
        conn = self._conn(self._writer)
        conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms or self._busy_timeout_ms)}")
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = body(conn)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return result

    async def _write(self, statements: Sequence[Statement]) -> None:
        def body(conn: sqlite3.Connection) -> None:
            for statement, args in statements:
                conn.execute(statement, args)

        await self._on(self._write_thread, lambda: self._transaction(body))

    async def append(self, records: Sequence[AuditRecord], *, within: float | None = None) -> list[int]:
        if not records:
            return []
        wait_ms = self._busy_timeout_ms if within is None else max(1, int(within * 1000))

        def body(conn: sqlite3.Connection) -> list[int]:
            head_seq, head_hash = conn.execute(sql.SELECT_HEAD).fetchone()
            linked = link(head_seq, head_hash, records)
            conn.executemany(sql.INSERT_RECORD, linked.rows)
            if linked.patient_rows:
                conn.executemany(sql.INSERT_PATIENT, linked.patient_rows)
            conn.execute(sql.UPDATE_HEAD, (linked.head_seq, linked.head_hash))
            return linked.seqs

        return await self._on(self._write_thread, lambda: self._transaction(body, busy_timeout_ms=wait_ms))

    async def _purge(self, before: str, today: str, make_checkpoint: Callable[[PurgePlan], AuditRecord]) -> PurgeResult:
        def body(conn: sqlite3.Connection) -> PurgeResult:
            head_seq, head_hash = conn.execute(sql.SELECT_HEAD).fetchone()
            first = conn.execute(sql.FIRST_SEQ).fetchone()[0]
            cut = conn.execute(sql.FIRST_SEQ_FROM, (before,)).fetchone()[0]
            bound = cut if cut is not None else head_seq + 1
            held = conn.execute(sql.FIRST_HELD_SEQ, (bound, today, today)).fetchone()[0]
            keep_from, kept_for_hold = first_kept(cut=cut, held=held, head_seq=head_seq)
            found = conn.execute(sql.HASH_OF, (keep_from - 1,)).fetchone()
            plan = purge_plan(
                first=first,
                keep_from=keep_from,
                kept_for_hold=kept_for_hold,
                last_hash=found[0] if found else None,
                count=conn.execute(sql.COUNT_BEFORE, (keep_from,)).fetchone()[0],
            )
            if plan is None:
                return PurgeResult(0, 0, 0, kept_for_hold)
            conn.execute(sql.MARK_PURGING)
            conn.execute(sql.DELETE_PATIENTS_BEFORE, (plan.keep_from,))
            conn.execute(sql.DELETE_RECORDS_BEFORE, (plan.keep_from,))
            conn.execute(sql.UNMARK_PURGING)
            linked = link(head_seq, head_hash, [make_checkpoint(plan)])
            conn.executemany(sql.INSERT_RECORD, linked.rows)
            conn.execute(sql.UPDATE_HEAD, (linked.head_seq, linked.head_hash))
            return PurgeResult(plan.count, plan.keep_from - 1, linked.seqs[0], plan.kept_for_hold)

        return await self._on(self._write_thread, lambda: self._transaction(body))
