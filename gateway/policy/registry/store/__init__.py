"""Where the registry lives: SQLite (embedded, ``<data_dir>/gateway.sqlite3``) or PostgreSQL (scaled out)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from gateway.policy.registry.store.base import (
    ClientRecord,
    IdentifierKind,
    IssuedClient,
    RegistryImportError,
    RegistryStore,
    RejectedRow,
)
from gateway.policy.registry.store.sqlite import FILE_NAME


def make_registry(
    kind: Literal["sqlite", "postgres"],
    *,
    data_dir: Path,
    postgres_dsn: str = "",
    postgres_schema: str = "gateway",
) -> RegistryStore:
    """An unopened registry store of ``kind`` (call ``open()``)."""
    if kind == "postgres":
        from gateway.policy.registry.store.postgres import PostgresRegistry

        return PostgresRegistry(postgres_dsn, postgres_schema)
    from gateway.policy.registry.store.sqlite import SqliteRegistry

    return SqliteRegistry(data_dir / FILE_NAME)


__all__ = [
    "ClientRecord",
    "IdentifierKind",
    "IssuedClient",
    "RegistryImportError",
    "RegistryStore",
    "RejectedRow",
    "make_registry",
]
