"""The audit store over both backends (PostgreSQL in a schema of its own), a second store on the same database (another
process's view), and records to write."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import orjson
import pytest

from gateway.audit import AuditRecord, AuditStore
from gateway.audit.store.postgres import PostgresAuditStore
from gateway.audit.store.sqlite import SqliteAuditStore

POSTGRES_DSN = os.environ.get("PMP_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")

OpenAnother = Callable[[], Awaitable[AuditStore]]


async def drop_schema(schema: str) -> None:
    conn = await asyncpg.connect(POSTGRES_DSN)
    try:
        await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    finally:
        await conn.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[tuple[AuditStore, OpenAnother]]:
    """An empty, opened audit store of each backend, and a way to open another store on the same database."""
    opened: list[AuditStore] = []
    schema = "t_" + uuid.uuid4().hex[:16]

    async def another() -> AuditStore:
        store: AuditStore
        if request.param == "sqlite":
            store = SqliteAuditStore(tmp_path / "audit.sqlite3")
        else:
            store = PostgresAuditStore(POSTGRES_DSN, schema)
        await store.open()
        opened.append(store)
        return store

    first = await another()
    try:
        yield first, another
    finally:
        for store in opened:
            await store.close()
        if request.param == "postgres":
            await drop_schema(schema)


@pytest.fixture
def audit_store(backend: tuple[AuditStore, OpenAnother]) -> AuditStore:
    return backend[0]


def make_record(n: int = 0, **fields: Any) -> AuditRecord:
    """A provided-outcome request record; ``fields`` override (``patients`` may be a list)."""
    if isinstance(fields.get("patients"), list):
        fields["patients"] = orjson.dumps(fields["patients"]).decode()
    values: dict[str, Any] = {
        "time": f"2026-03-{1 + n % 28:02d}T10:00:{n % 60:02d}.000000Z",
        "request_id": f"req-{n}",
        "protocol": "fhir",
        "operation": "pdmp-history",
        "eds_id": "eds_1",
        "client_id": "cli_1",
        "user_id": "usr_1",
        "role": "prescriber",
        "requester": "AMSTER, ADAM",
        "requester_ident": "npi:1234567893",
        "purpose": "treatment",
        "query": '{"birth_date":"1980-01-02","family":"Smith","given":"Jane"}',
        "q_last": "SMITH",
        "q_first": "JANE",
        "q_dob": "1980-01-02",
        "patients": '["p1"]',
        "range_start": "2025-03-01",
        "range_end": "2026-03-01",
        "outcome": "provided",
        "records": 3,
    }
    values.update(fields)
    return AuditRecord(**values)


async def raw_execute(store: AuditStore, *statements: str) -> None:
    """Run SQL behind the store's back — as someone with database access would — with the append-only triggers
    dropped first (as a tamperer would)."""
    if isinstance(store, SqliteAuditStore):
        import sqlite3

        conn = sqlite3.connect(store.path, isolation_level=None)
        try:
            conn.execute("DROP TRIGGER IF EXISTS audit_record_no_update")
            conn.execute("DROP TRIGGER IF EXISTS audit_record_no_delete")
            for statement in statements:
                conn.execute(statement)
        finally:
            conn.close()
        return
    assert isinstance(store, PostgresAuditStore)
    conn2 = await asyncpg.connect(POSTGRES_DSN, server_settings={"search_path": store._schema})
    try:
        await conn2.execute("DROP TRIGGER IF EXISTS audit_record_guard ON audit_record")
        for statement in statements:
            await conn2.execute(statement)
    finally:
        await conn2.close()


class TcpProxy:
    """A loopback TCP relay in front of PostgreSQL: ``stop()`` cuts every connection and refuses new ones — the
    database server going away, as the gateway sees it."""

    def __init__(self, target_host: str = "127.0.0.1", target_port: int = 5432) -> None:
        self._target = (target_host, target_port)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/test"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self._target)
        self._writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for w in self._writers:
            w.close()
        self._writers.clear()
