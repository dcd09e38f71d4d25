"""The gateway's own PostgreSQL schema (registry, suspensions, audit trail share it, default ``gateway``): one way
to check its name, create it with its tables, and open a pool whose ``search_path`` is that schema.

Every store creates its tables under the same advisory lock, taken per schema: replicas and stores starting
together create the schema once (two ``CREATE SCHEMA IF NOT EXISTS`` under different locks can fail on one side).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import asyncpg

SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def checked_schema(schema: str) -> str:
    """``schema`` if it is a plain lower-case SQL identifier (it is interpolated into DDL), else ValueError."""
    if not SCHEMA_NAME.match(schema):
        raise ValueError("postgres schema must be a lower-case SQL identifier")
    return schema


async def create_tables(conn: asyncpg.Connection, schema: str, ddl: Iterable[str]) -> None:
    """The schema and ``ddl`` in one transaction, under the schema's advisory lock."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"{schema}.ddl")
        await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        await conn.execute(f"SET LOCAL search_path TO {schema}")
        for statement in ddl:
            await conn.execute(statement)


async def open_pool(
    dsn: str, schema: str, ddl: Iterable[str], *, min_size: int = 1, max_size: int = 4, **options: Any
) -> asyncpg.Pool:
    """Create the tables (one short connection), then a pool on ``schema``. ``options`` go to both (e.g.
    ``timeout``) — asyncpg errors propagate; the caller turns them into its own 'unavailable' error."""
    timeout = options.get("timeout")
    conn = await asyncpg.connect(dsn, **({"timeout": timeout} if timeout is not None else {}))
    try:
        await create_tables(conn, schema, ddl)
    finally:
        await conn.close()
    pool: asyncpg.Pool = await asyncpg.create_pool(
        dsn, min_size=min_size, max_size=max_size, server_settings={"search_path": schema}, **options
    )
    return pool
