"""PostgreSQL audit store (asyncpg): the gateway's schema (default ``gateway``), shared by every replica.

Each append or purge is one transaction that first locks the one ``audit_head`` row (``SELECT … FOR UPDATE``):
replicas' batches queue on that row and the chain stays linear. Commits use the server's ``synchronous_commit``
(``on`` by default: durable when the commit returns). ``write_timeout`` bounds a whole append (waiting for the head
lock included) and ``command_timeout`` each statement, so a server that stops answering fails the batch — rolled
back — before the requests waiting for it give up.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

import asyncpg

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
from gateway.postgres_schema import checked_schema, open_pool

DEFAULT_SCHEMA = "gateway"
_FAILURES = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError)


def numbered(statement: str) -> str:
    """``?`` placeholders → ``$1, $2, …`` (the audit SQL has no ``?`` inside literals)."""
    parts = statement.split("?")
    return "".join(f"{part}${i}" for i, part in enumerate(parts[:-1], start=1)) + parts[-1]


class PostgresAuditStore(AuditStore):
    """The audit trail in a PostgreSQL schema."""

    def __init__(
        self,
        dsn: str,
        schema: str = DEFAULT_SCHEMA,
        *,
        min_size: int = 1,
        max_size: int = 4,
        command_timeout: float = 10.0,
        write_timeout: float = 10.0,
    ) -> None:
        self._dsn = dsn
        self._schema = checked_schema(schema)
        self._min_size = min_size
        self._max_size = max_size
        self._command_timeout = command_timeout
        self._write_timeout = write_timeout
        self._pool: asyncpg.Pool | None = None
        self._numbered: dict[str, str] = {}

    @property
    def _db(self) -> asyncpg.Pool:
        if self._pool is None:
            raise AuditUnavailableError("the audit store is not open")
        return self._pool

    def _sql(self, statement: str) -> str:
        found = self._numbered.get(statement)
        if found is None:
            found = self._numbered[statement] = numbered(statement)
        return found

    async def open(self) -> None:
        try:
            ddl = [d.replace("{seq}", "BIGINT") for d in (*sql.TABLES, *sql.POSTGRES_TRIGGERS)]
            self._pool = await open_pool(
                self._dsn,
                self._schema,
                ddl,
                min_size=self._min_size,
                max_size=self._max_size,
                command_timeout=self._command_timeout,
                timeout=self._command_timeout,
            )
        except _FAILURES as exc:
            raise AuditUnavailableError(f"cannot open the PostgreSQL audit store: {type(exc).__name__}") from exc

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    async def _fetch(self, statement: str, *args: Any) -> list[Row]:
        try:
            rows = await self._db.fetch(self._sql(statement), *args)
        except _FAILURES as exc:
            raise AuditUnavailableError(f"audit store failed: {type(exc).__name__}") from exc
        return [tuple(r) for r in rows]

    async def _write(self, statements: Sequence[Statement]) -> None:
        try:
            async with self._db.acquire() as conn, conn.transaction():
                for statement, args in statements:
                    await conn.execute(self._sql(statement), *args)
        except _FAILURES as exc:
            raise AuditUnavailableError(f"audit store failed: {type(exc).__name__}") from exc

    async def append(self, records: Sequence[AuditRecord], *, within: float | None = None) -> list[int]:
        if not records:
            return []
        try:
            async with (
                asyncio.timeout(self._write_timeout if within is None else within),
                self._db.acquire() as conn,
                conn.transaction(),
            ):
                head = await conn.fetchrow(self._sql(f"{sql.SELECT_HEAD} FOR UPDATE"))
                linked = link(int(head[0]), head[1], records)
                await conn.executemany(self._sql(sql.INSERT_RECORD), linked.rows)
                if linked.patient_rows:
                    await conn.executemany(self._sql(sql.INSERT_PATIENT), linked.patient_rows)
                await conn.execute(self._sql(sql.UPDATE_HEAD), linked.head_seq, linked.head_hash)
        except _FAILURES as exc:
            raise AuditUnavailableError(f"audit store failed: {type(exc).__name__}") from exc
        return linked.seqs

    async def _purge(self, before: str, today: str, make_checkpoint: Callable[[PurgePlan], AuditRecord]) -> PurgeResult:
        try:
            async with self._db.acquire() as conn, conn.transaction():
                head = await conn.fetchrow(self._sql(f"{sql.SELECT_HEAD} FOR UPDATE"))
                head_seq, head_hash = int(head[0]), str(head[1])
                first = await conn.fetchval(sql.FIRST_SEQ)
                cut = await conn.fetchval(self._sql(sql.FIRST_SEQ_FROM), before)
                bound = cut if cut is not None else head_seq + 1
                held = await conn.fetchval(self._sql(sql.FIRST_HELD_SEQ), bound, today, today)
                keep_from, kept_for_hold = first_kept(cut=cut, held=held, head_seq=head_seq)
                plan = purge_plan(
                    first=first,
                    keep_from=keep_from,
                    kept_for_hold=kept_for_hold,
                    last_hash=await conn.fetchval(self._sql(sql.HASH_OF), keep_from - 1),
                    count=int(await conn.fetchval(self._sql(sql.COUNT_BEFORE), keep_from)),
                )
                if plan is None:
                    return PurgeResult(0, 0, 0, kept_for_hold)
                await conn.execute(sql.MARK_PURGING)
                await conn.execute(self._sql(sql.DELETE_PATIENTS_BEFORE), plan.keep_from)
                await conn.execute(self._sql(sql.DELETE_RECORDS_BEFORE), plan.keep_from)
                await conn.execute(sql.UNMARK_PURGING)
                linked = link(head_seq, head_hash, [make_checkpoint(plan)])
                await conn.executemany(self._sql(sql.INSERT_RECORD), linked.rows)
                await conn.execute(self._sql(sql.UPDATE_HEAD), linked.head_seq, linked.head_hash)
        except _FAILURES as exc:
            raise AuditUnavailableError(f"audit store failed: {type(exc).__name__}") from exc
        return PurgeResult(plan.count, plan.keep_from - 1, linked.seqs[0], plan.kept_for_hold)
