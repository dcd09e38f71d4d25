"""Opening one of the gateway's own SQLite files (registry and suspensions in ``gateway.sqlite3``, the audit trail in
``audit.sqlite3``): WAL so readers never wait for the writer, a busy timeout so several workers can share the file,
and the tables created in one transaction (``IF NOT EXISTS``: every worker may race to do it)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path


def connect(path: Path, *, synchronous: str = "NORMAL", busy_timeout_ms: int = 5000) -> sqlite3.Connection:
    """An autocommit connection (transactions are explicit ``BEGIN IMMEDIATE``), usable from one other thread."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


def open_with_schema(
    path: Path, ddl: Iterable[str], *, synchronous: str = "NORMAL", busy_timeout_ms: int = 5000
) -> sqlite3.Connection:
    """``connect`` after creating the folder, then the schema in one transaction. Raises ``sqlite3.Error`` or
    ``OSError``; the caller turns them into its own 'unavailable' error."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = connect(path, synchronous=synchronous, busy_timeout_ms=busy_timeout_ms)
    try:
        conn.execute("BEGIN IMMEDIATE")
        for statement in ddl:
            conn.execute(statement)
        conn.execute("COMMIT")
    except BaseException:
        conn.close()
        raise
    return conn
