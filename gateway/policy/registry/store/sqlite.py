"""SQLite registry: the embedded default, ``<data_dir>/gateway.sqlite3``.

Queries run on the event loop, as pmpdb's SQLite store does: a primary-key lookup costs microseconds and a thread
hop would cost more. WAL lets the CLI register users while ``serve`` reads.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gateway.policy.registry.errors import RegistryConflictError, RegistryUnavailableError
from gateway.policy.registry.store.base import RegistryStore, Row, Statement
from gateway.policy.registry.store.schema import COLUMN_UPGRADES, TABLES
from gateway.sqlite_file import open_with_schema

FILE_NAME = "gateway.sqlite3"


def add_missing_columns(conn: sqlite3.Connection) -> None:
    """``COLUMN_UPGRADES`` that the file's tables lack, added in one transaction. SQLite has no ``ADD COLUMN IF NOT
    EXISTS``: the check and the change happen under the write lock, so workers opening an older file together add
    each column once."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        for table, column, declaration in COLUMN_UPGRADES:
            present = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
            if column not in present:
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


class SqliteRegistry(RegistryStore):
    """The registry in one SQLite file."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._conn: sqlite3.Connection | None = None
        self._data_version = -1

    @property
    def path(self) -> Path:
        return self._path

    @property
    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RegistryUnavailableError("registry is not open")
        return self._conn

    async def open(self) -> None:
        try:
            self._conn = open_with_schema(self._path, TABLES)
            add_missing_columns(self._conn)
        except (sqlite3.Error, OSError) as exc:
            raise RegistryUnavailableError(f"cannot open the SQLite registry: {exc}") from exc

    async def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    async def _data_changed(self) -> bool:
        """``PRAGMA data_version`` moves when another connection (another worker, the CLI) commits."""
        try:
            version = int(self._db.execute("PRAGMA data_version").fetchone()[0])
        except sqlite3.Error as exc:
            raise RegistryUnavailableError(f"registry query failed: {type(exc).__name__}") from exc
        changed, self._data_version = version != self._data_version, version
        return changed

    async def _fetch(self, statement: str, *args: Any) -> list[Row]:
        try:
            return self._db.execute(statement, args).fetchall()
        except sqlite3.Error as exc:
            raise RegistryUnavailableError(f"registry query failed: {type(exc).__name__}") from exc

    async def _write(self, statements: Sequence[Statement]) -> list[int]:
        self._forget_reads()
        conn = self._db
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise RegistryUnavailableError(f"registry write failed: {type(exc).__name__}") from exc
        try:
            counts = [conn.execute(statement, args).rowcount for statement, args in statements]
            conn.execute("COMMIT")
        except sqlite3.IntegrityError as exc:
            conn.execute("ROLLBACK")
            raise RegistryConflictError("the change conflicts with a registered record") from exc
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise RegistryUnavailableError(f"registry write failed: {type(exc).__name__}") from exc
        return counts
