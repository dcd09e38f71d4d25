"""The registry fixture over both backends (PostgreSQL in a schema of its own), and small factories."""

from __future__ import annotations

import os
import random
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from gateway.policy.registry import RegistryStore
from gateway.policy.registry.identifiers import dea_check_digit, npi_check_digit
from gateway.policy.registry.store.postgres import PostgresRegistry
from gateway.policy.registry.store.sqlite import SqliteRegistry

POSTGRES_DSN = os.environ.get("PMP_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")


async def drop_schema(schema: str) -> None:
    conn = await asyncpg.connect(POSTGRES_DSN)
    try:
        await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    finally:
        await conn.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def registry(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[RegistryStore]:
    """An empty, opened registry of each backend."""
    store: RegistryStore
    schema = ""
    if request.param == "sqlite":
        store = SqliteRegistry(tmp_path / "gateway.sqlite3")
    else:
        schema = "t_" + uuid.uuid4().hex[:16]
        store = PostgresRegistry(POSTGRES_DSN, schema)
    await store.open()
    try:
        yield store
    finally:
        await store.close()
        if schema:
            await drop_schema(schema)


_rng = random.Random(5)


def make_npi() -> str:
    body = "1" + "".join(_rng.choice("0123456789") for _ in range(8))
    return body + str(npi_check_digit(body))


def make_dea(initial: str = "S") -> str:
    digits = "".join(_rng.choice("0123456789") for _ in range(6))
    return "B" + initial + digits + str(dea_check_digit(digits))
