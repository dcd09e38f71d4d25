"""Where the audit trail lives: SQLite (embedded, ``<data_dir>/audit.sqlite3``) or PostgreSQL (the gateway's schema,
beside the registry)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from gateway.audit.store.base import AuditStore, PurgeResult


def make_audit_store(
    kind: Literal["sqlite", "postgres"],
    *,
    data_dir: Path,
    postgres_dsn: str = "",
    postgres_schema: str = "gateway",
    synchronous: Literal["FULL", "NORMAL"] = "FULL",
) -> AuditStore:
    """An unopened audit store of ``kind`` (call ``open()``)."""
    if kind == "postgres":
        from gateway.audit.store.postgres import PostgresAuditStore

        return PostgresAuditStore(postgres_dsn, postgres_schema)
    from gateway.audit.store.sqlite import FILE_NAME, SqliteAuditStore

    return SqliteAuditStore(data_dir / FILE_NAME, synchronous=synchronous)


__all__ = ["AuditStore", "PurgeResult", "make_audit_store"]
