"""Suspensions in the gateway database, beside the registry: ``<data_dir>/gateway.sqlite3`` (the embedded default)
or the registry's PostgreSQL schema.

Without Redis this is the truth: a running ``serve`` polls ``version`` (SQLite: ``PRAGMA data_version`` first, so an
idle check reads no table) and sees a CLI change within its check interval. With Redis it is the durable journal
that every change is written to first (``RedisSuspensionStore``), so suspensions survive a Redis that loses its data.

Tables (created on open, ``IF NOT EXISTS``):

- ``suspension``: one row per record; empty text = not set (``ends_at``, the three ``reinstate*`` columns).
- ``suspension_version``: one row, bumped in the same transaction as every change.

A merge is one upsert whose ``DO UPDATE`` only fills the reinstatement of a row not yet reinstated, so concurrent
writers (workers, the CLI, replicas sharing PostgreSQL) cannot undo each other.
"""

# SQL text is assembled only from the constant column list below; values are always bound.
# ruff: noqa: S608

from __future__ import annotations

import abc
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from gateway.policy.suspension.errors import SuspensionUnavailableError
from gateway.policy.suspension.model import Suspension, SuspensionKind, utc_text
from gateway.policy.suspension.store import ChangeFeed, Snapshot
from gateway.postgres_schema import checked_schema, open_pool
from gateway.sqlite_file import open_with_schema

TABLES: tuple[str, ...] = (
    """CREATE TABLE IF NOT EXISTS suspension (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  target TEXT NOT NULL,
  reason TEXT NOT NULL,
  suspended_by TEXT NOT NULL,
  suspended_at TEXT NOT NULL,
  ends_at TEXT NOT NULL DEFAULT '',
  reinstated_at TEXT NOT NULL DEFAULT '',
  reinstated_by TEXT NOT NULL DEFAULT '',
  reinstate_reason TEXT NOT NULL DEFAULT ''
)""",
    "CREATE INDEX IF NOT EXISTS suspension_in_force ON suspension (reinstated_at, ends_at)",
    "CREATE TABLE IF NOT EXISTS suspension_version (id INTEGER PRIMARY KEY CHECK (id = 1), version BIGINT NOT NULL)",
    "INSERT INTO suspension_version (id, version) VALUES (1, 0) ON CONFLICT (id) DO NOTHING",
)
COLUMNS = (
    "id, kind, target, reason, suspended_by, suspended_at, ends_at, reinstated_at, reinstated_by, reinstate_reason"
)
UPSERT = (
    f"INSERT INTO suspension ({COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?)"
    " ON CONFLICT (id) DO UPDATE SET reinstated_at = excluded.reinstated_at,"
    " reinstated_by = excluded.reinstated_by, reinstate_reason = excluded.reinstate_reason"
    " WHERE suspension.reinstated_at = '' AND excluded.reinstated_at <> ''"
)
BUMP = "UPDATE suspension_version SET version = version + 1 WHERE id = 1"
SELECT_VERSION = "SELECT version FROM suspension_version WHERE id = 1"
SELECT_ONE = f"SELECT {COLUMNS} FROM suspension WHERE id = ?"
SELECT_HISTORY = f"SELECT {COLUMNS} FROM suspension ORDER BY suspended_at DESC, id DESC LIMIT ?"
# One statement, so the version and the rows are read together.
SELECT_SNAPSHOT = (
    "SELECT v.version, "
    + ", ".join(f"s.{c.strip()}" for c in COLUMNS.split(","))
    + " FROM suspension_version v LEFT JOIN suspension s ON s.reinstated_at = '' AND (s.ends_at = '' OR s.ends_at > ?)"
    " WHERE v.id = 1"
)


def _args(record: Suspension) -> tuple[str, ...]:
    return (
        record.id,
        record.kind.value,
        record.target,
        record.reason,
        record.by,
        record.at,
        record.until,
        record.reinstated_at,
        record.reinstated_by,
        record.reinstate_reason,
    )


def _record(row: Sequence[Any]) -> Suspension:
    return Suspension(
        id=row[0],
        kind=SuspensionKind(row[1]),
        target=row[2],
        reason=row[3],
        by=row[4],
        at=row[5],
        until=row[6],
        reinstated_at=row[7],
        reinstated_by=row[8],
        reinstate_reason=row[9],
    )


class SqlSuspensionStore(abc.ABC):
    """The queries, once; a backend runs them (``_fetch``) and applies one merge in a transaction (``_merge``)."""

    @abc.abstractmethod
    async def open(self) -> None: ...

    @abc.abstractmethod
    async def close(self) -> None: ...

    @abc.abstractmethod
    async def _fetch(self, statement: str, *args: Any) -> list[Sequence[Any]]: ...

    @abc.abstractmethod
    async def _merge(self, args: tuple[str, ...]) -> bool:
        """Run ``UPSERT`` and, when it changed a row, ``BUMP``, in one transaction; whether it changed."""

    async def put(self, record: Suspension) -> Suspension:
        await self._merge(_args(record))
        stored = await self.get(record.id)
        if stored is None:  # pragma: no cover - the upsert either inserted it or found it
            raise SuspensionUnavailableError("the suspension was not stored")
        return stored

    async def get(self, suspension_id: str) -> Suspension | None:
        rows = await self._fetch(SELECT_ONE, suspension_id)
        return _record(rows[0]) if rows else None

    async def version(self) -> int | None:
        rows = await self._fetch(SELECT_VERSION)
        return int(rows[0][0]) if rows else None

    async def snapshot(self) -> Snapshot:
        rows = await self._fetch(SELECT_SNAPSHOT, utc_text_now())
        if not rows:  # pragma: no cover - open() creates the version row
            return Snapshot(None, ())
        return Snapshot(int(rows[0][0]), tuple(_record(r[1:]) for r in rows if r[1] is not None))

    async def history(self, limit: int = 1000) -> list[Suspension]:
        return [_record(r) for r in await self._fetch(SELECT_HISTORY, limit)]

    async def all_records(self) -> list[Suspension]:
        """Every record (the journal Redis is reconciled from; suspensions are rare, the table is small)."""
        return [_record(r) for r in await self._fetch(f"SELECT {COLUMNS} FROM suspension")]

    async def reconcile(self) -> None:
        return None

    def feed(self) -> ChangeFeed | None:
        return None


def utc_text_now() -> str:
    return utc_text(datetime.now(UTC))


class SqliteSuspensionStore(SqlSuspensionStore):
    """In ``gateway.sqlite3`` (its own connection; WAL, as the registry). Queries run on the event loop: they are
    primary-key reads of a tiny table, cheaper than a thread hop."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._conn: sqlite3.Connection | None = None
        self._data_version = -1
        self._version: int | None = None

    @property
    def path(self) -> Path:
        return self._path

    @property
    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise SuspensionUnavailableError("the suspension store is not open")
        return self._conn

    async def open(self) -> None:
        try:
            self._conn = open_with_schema(self._path, TABLES)
        except (sqlite3.Error, OSError) as exc:
            raise SuspensionUnavailableError(f"cannot open the suspension table: {type(exc).__name__}") from exc

    async def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    async def _fetch(self, statement: str, *args: Any) -> list[Sequence[Any]]:
        try:
            return self._db.execute(statement, args).fetchall()
        except sqlite3.Error as exc:
            raise SuspensionUnavailableError(f"suspension query failed: {type(exc).__name__}") from exc

    async def _merge(self, args: tuple[str, ...]) -> bool:
        conn = self._db
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                changed = conn.execute(UPSERT, args).rowcount > 0
                if changed:
                    conn.execute(BUMP)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise SuspensionUnavailableError(f"suspension write failed: {type(exc).__name__}") from exc
        self._data_version = -1  # our own commits do not move data_version for this connection
        return changed

    async def version(self) -> int | None:
        """``PRAGMA data_version`` moves when another connection commits; only then is the version row read."""
        try:
            data_version = int(self._db.execute("PRAGMA data_version").fetchone()[0])
        except sqlite3.Error as exc:
            raise SuspensionUnavailableError(f"suspension query failed: {type(exc).__name__}") from exc
        if data_version != self._data_version or self._version is None:
            self._version = await super().version()
            self._data_version = data_version
        return self._version


_PG_FAILURES = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError)


def _numbered(statement: str) -> str:
    parts = statement.split("?")
    return "".join(f"{part}${i}" for i, part in enumerate(parts[:-1], start=1)) + parts[-1]


class PostgresSuspensionStore(SqlSuspensionStore):
    """In the registry's PostgreSQL schema (default ``gateway``), created under an advisory lock."""

    def __init__(self, dsn: str, schema: str = "gateway") -> None:
        self._dsn = dsn
        self._schema = checked_schema(schema)
        self._pool: asyncpg.Pool | None = None

    @property
    def _db(self) -> asyncpg.Pool:
        if self._pool is None:
            raise SuspensionUnavailableError("the suspension store is not open")
        return self._pool

    async def open(self) -> None:
        try:
            self._pool = await open_pool(self._dsn, self._schema, TABLES, min_size=1, max_size=2)
        except _PG_FAILURES as exc:
            raise SuspensionUnavailableError(f"cannot open the suspension table: {type(exc).__name__}") from exc

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def _fetch(self, statement: str, *args: Any) -> list[Sequence[Any]]:
        try:
            rows = await self._db.fetch(_numbered(statement), *args)
        except _PG_FAILURES as exc:
            raise SuspensionUnavailableError(f"suspension query failed: {type(exc).__name__}") from exc
        return [tuple(r) for r in rows]

    async def _merge(self, args: tuple[str, ...]) -> bool:
        try:
            async with self._db.acquire() as conn, conn.transaction():
                status = await conn.execute(_numbered(UPSERT), *args)
                changed = int(status.rsplit(" ", 1)[-1]) > 0
                if changed:
                    await conn.execute(BUMP)
        except _PG_FAILURES as exc:
            raise SuspensionUnavailableError(f"suspension write failed: {type(exc).__name__}") from exc
        return changed
