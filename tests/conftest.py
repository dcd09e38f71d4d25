"""Fixtures shared by the whole suite: both store backends against the real servers."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from pmpdb.store.base import Store
from pmpdb.store.postgres import PostgresStore
from pmpdb.store.sqlite import SqliteStore

POSTGRES_DSN = os.environ.get("PMP_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")


def _schema_name() -> str:
    return "t_" + uuid.uuid4().hex[:16]


async def drop_schema(schema: str) -> None:
    conn = await asyncpg.connect(POSTGRES_DSN)
    try:
        await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    finally:
        await conn.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """An empty, opened store of each backend; PostgreSQL gets a schema of its own, dropped afterwards."""
    backend: Store
    schema = ""
    if request.param == "sqlite":
        backend = SqliteStore(tmp_path / "pmpdb.sqlite3")
    else:
        schema = _schema_name()
        backend = PostgresStore(POSTGRES_DSN, schema)
    await backend.open()
    try:
        yield backend
    finally:
        await backend.close()
        if schema:
            await drop_schema(schema)


@pytest.fixture
def pg_schema() -> str:
    return _schema_name()
