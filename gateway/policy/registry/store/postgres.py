"""PostgreSQL registry (asyncpg): shared by every gateway replica when scaled out.

The tables live in their own PostgreSQL schema (default ``gateway``), created on open under an advisory lock so
replicas starting together do not race. Statements are written once with ``?`` and numbered here.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import asyncpg

from gateway.policy.registry.errors import RegistryConflictError, RegistryUnavailableError
from gateway.policy.registry.store.base import RegistryStore, Row, Statement
from gateway.policy.registry.store.schema import TABLES, postgres_upgrades
from gateway.postgres_schema import checked_schema, open_pool

DEFAULT_SCHEMA = "gateway"
_FAILURES = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError)


def numbered(statement: str) -> str:
    """``?`` placeholders → ``$1, $2, …`` (the registry's SQL has no ``?`` inside literals)."""
    parts = statement.split("?")
    return "".join(f"{part}${i}" for i, part in enumerate(parts[:-1], start=1)) + parts[-1]


STALE_SECONDS = 1.0  # how old a cached registry read may be on PostgreSQL (suspension, issue 6, is immediate)


class PostgresRegistry(RegistryStore):
    """The registry in a PostgreSQL schema."""

    def __init__(self, dsn: str, schema: str = DEFAULT_SCHEMA, *, min_size: int = 1, max_size: int = 4) -> None:
        self._dsn = dsn
        self._schema = checked_schema(schema)
        self._min_size = min_size
        self._max_size = max_size
        self._pool: asyncpg.Pool | None = None
        self._numbered: dict[str, str] = {}
        self._cache_born = 0.0

    @property
    def _db(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RegistryUnavailableError("registry is not open")
        return self._pool

    def _sql(self, statement: str) -> str:
        found = self._numbered.get(statement)
        if found is None:
            found = self._numbered[statement] = numbered(statement)
        return found

    async def open(self) -> None:
        try:
            self._pool = await open_pool(
                self._dsn,
                self._schema,
                (*TABLES, *postgres_upgrades()),
                min_size=self._min_size,
                max_size=self._max_size,
            )
        except _FAILURES as exc:
            raise RegistryUnavailableError(f"cannot open the PostgreSQL registry: {type(exc).__name__}") from exc

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def _data_changed(self) -> bool:
        """Other replicas write without telling: cached reads live at most ``STALE_SECONDS``."""
        now = time.monotonic()
        if now - self._cache_born >= STALE_SECONDS:
            self._cache_born = now
            return True
        return False

    async def _fetch(self, statement: str, *args: Any) -> list[Row]:
        try:
            rows = await self._db.fetch(self._sql(statement), *args)
        except _FAILURES as exc:
            raise RegistryUnavailableError(f"registry query failed: {type(exc).__name__}") from exc
        return [tuple(r) for r in rows]

    async def _write(self, statements: Sequence[Statement]) -> list[int]:
        self._forget_reads()
        counts: list[int] = []
        try:
            async with self._db.acquire() as conn, conn.transaction():
                for statement, args in statements:
                    status = await conn.execute(self._sql(statement), *args)
                    counts.append(int(status.rsplit(" ", 1)[-1]))
        except asyncpg.IntegrityConstraintViolationError as exc:
            raise RegistryConflictError("the change conflicts with a registered record") from exc
        except _FAILURES as exc:
            raise RegistryUnavailableError(f"registry write failed: {type(exc).__name__}") from exc
        return counts
