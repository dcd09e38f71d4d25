"""PostgreSQL backend (asyncpg): the scaled-out store, shared by pmpdb replicas.

The schema lives in its own PostgreSQL schema (setting ``postgres_schema``) so tests and deployments can
share one server. Bulk ingest copies each batch into a session-local staging table with the binary COPY
protocol and inserts from there with ``ON CONFLICT DO NOTHING`` — the fastest idempotent path asyncpg offers.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from typing import Any

import asyncpg

from pmpdb.store.base import (
    DispensationPage,
    FileRecord,
    IndicatorRow,
    IngestCounts,
    IngestSession,
    PatientRecord,
    Row,
    Store,
    StoreUnavailableError,
    VoidOutcome,
)
from pmpdb.store.schema import (
    ADDED_COLUMNS,
    DISPENSATION_COLUMNS,
    DRUG_COLUMNS,
    HISTORY_SELECT,
    INDICATOR_SELECT,
    PATIENT_COLUMNS,
    PHARMACY_COLUMNS,
    PRESCRIBER_COLUMNS,
    tables,
)

_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

_UNAVAILABLE = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
)


def _params(n: int, start: int = 1) -> str:
    return ",".join(f"${i}" for i in range(start, start + n))


def _upsert(table: str, columns: tuple[str, ...]) -> str:
    updates = ",".join(f"{c} = EXCLUDED.{c}" for c in columns[1:])
    return (
        f"INSERT INTO {table} ({','.join(columns)}) VALUES ({_params(len(columns))})"
        f" ON CONFLICT ({columns[0]}) DO UPDATE SET {updates}"
    )


_UPSERT_PHARMACY = _upsert("pharmacy", PHARMACY_COLUMNS)
_UPSERT_PRESCRIBER = _upsert("prescriber", PRESCRIBER_COLUMNS)
_INSERT_PATIENT = (
    f"INSERT INTO patient ({','.join(PATIENT_COLUMNS)}) VALUES ({_params(len(PATIENT_COLUMNS))})"
    " ON CONFLICT (id) DO NOTHING"
)
_REVISE = (
    f"UPDATE dispensation SET ({','.join(DISPENSATION_COLUMNS[1:])}) = "
    f"ROW({_params(len(DISPENSATION_COLUMNS) - 1, 2)}) WHERE id = $1"
)
_CANDIDATES = (
    f"SELECT {','.join('p.' + c for c in PATIENT_COLUMNS)} FROM patient p WHERE p.id IN ("
    "SELECT DISTINCT patient_id FROM patient_key WHERE birth_date = ANY($1::text[]) AND key = ANY($2::text[])"
    " LIMIT $3)"
)
_PATIENT_BY_ID = f"SELECT {','.join(PATIENT_COLUMNS)} FROM patient WHERE id = $1"
_HISTORY = (
    f"{HISTORY_SELECT} WHERE d.patient_id = ANY($1::bigint[]) AND d.date_filled BETWEEN $2 AND $3"
    " ORDER BY d.date_filled DESC, d.id DESC LIMIT $4"
)
_HISTORY_AFTER = (
    f"{HISTORY_SELECT} WHERE d.patient_id = ANY($1::bigint[]) AND d.date_filled BETWEEN $2 AND $3"
    " AND (d.date_filled, d.id) < ($5, $6) ORDER BY d.date_filled DESC, d.id DESC LIMIT $4"
)
_INDICATORS = f"{INDICATOR_SELECT} WHERE d.patient_id = ANY($1::bigint[]) AND d.date_filled BETWEEN $2 AND $3"
_COUNT = (
    "SELECT count(*) FROM dispensation d WHERE d.patient_id = ANY($1::bigint[]) AND d.date_filled BETWEEN $2 AND $3"
)


class PostgresStore(Store):
    """The dispensation store in a PostgreSQL schema."""

    def __init__(self, dsn: str, schema: str = "pmpdb", *, min_size: int = 1, max_size: int = 8) -> None:
        if not _SCHEMA_NAME.match(schema):
            raise ValueError("postgres schema must be a lower-case SQL identifier")
        self._dsn = dsn
        self._schema = schema
        self._min_size = min_size
        self._max_size = max_size
        self._pool: asyncpg.Pool | None = None

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise StoreUnavailableError("store is not open")
        return self._pool

    async def open(self) -> None:
        try:
            conn = await asyncpg.connect(self._dsn)
            try:
                async with conn.transaction():
                    # One migrator at a time when replicas start together.
                    await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", self._schema)
                    await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {self._schema}")
                    await conn.execute(f"SET LOCAL search_path TO {self._schema}")
                    for ddl in tables("postgres"):
                        await conn.execute(ddl)
                    for table, column, kind in ADDED_COLUMNS:  # a store written by an older build
                        await conn.execute(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {column} {kind}")
            finally:
                await conn.close()
            self._pool = await asyncpg.create_pool(
                self._dsn,
                min_size=self._min_size,
                max_size=self._max_size,
                server_settings={"search_path": self._schema},
            )
        except (*_UNAVAILABLE, asyncpg.PostgresError) as exc:
            raise StoreUnavailableError(f"cannot open the PostgreSQL store: {type(exc).__name__}") from exc

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def _fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        try:
            return await self.pool.fetch(sql, *args)  # type: ignore[no-any-return]
        except (*_UNAVAILABLE, asyncpg.PostgresError) as exc:
            raise StoreUnavailableError(type(exc).__name__) from exc

    async def ping(self) -> None:
        await self._fetch("SELECT 1")

    async def is_empty(self) -> bool:
        rows = await self._fetch(
            "SELECT NOT EXISTS (SELECT 1 FROM dispensation) AND NOT EXISTS (SELECT 1 FROM ingested_file)"
        )
        return bool(rows[0][0])

    async def count_dispensations(self) -> int:
        return int((await self._fetch("SELECT count(*) FROM dispensation"))[0][0])

    async def drug_count(self) -> int:
        return int((await self._fetch("SELECT count(*) FROM drug"))[0][0])

    async def candidates(self, birth_dates: Collection[str], keys: Collection[str], limit: int) -> list[PatientRecord]:
        rows = await self._fetch(_CANDIDATES, list(birth_dates), list(keys), limit)
        return [PatientRecord(*r) for r in rows]

    async def patient_by_id(self, patient_id: int) -> PatientRecord | None:
        rows = await self._fetch(_PATIENT_BY_ID, patient_id)
        return PatientRecord(*rows[0]) if rows else None

    async def history(
        self,
        patient_ids: Sequence[int],
        start: str,
        end: str,
        limit: int,
        after: tuple[str, int] | None,
    ) -> DispensationPage:
        if not patient_ids:
            return DispensationPage([], 0)
        ids = list(patient_ids)
        if after is None:
            rows = await self._fetch(_HISTORY, ids, start, end, limit)
        else:
            rows = await self._fetch(_HISTORY_AFTER, ids, start, end, limit, after[0], after[1])
        if after is None and len(rows) < limit:
            total = len(rows)
        else:
            total = int((await self._fetch(_COUNT, ids, start, end))[0][0])
        return DispensationPage([tuple(r) for r in rows], total)

    async def indicator_rows(self, patient_ids: Sequence[int], start: str, end: str) -> list[IndicatorRow]:
        if not patient_ids:
            return []
        return [tuple(r) for r in await self._fetch(_INDICATORS, list(patient_ids), start, end)]

    async def file_by_sha256(self, sha256: str) -> FileRecord | None:
        rows = await self._fetch(
            "SELECT id, sha256, name, ingested_at, records, accepted, revised, voided, zero_reports, duplicates"
            " FROM ingested_file WHERE sha256 = $1",
            sha256,
        )
        if not rows:
            return None
        r = tuple(rows[0])
        return FileRecord(r[0], r[1], r[2], r[3], IngestCounts(*r[4:]))

    async def begin_ingest(self) -> IngestSession:
        try:
            conn = await self.pool.acquire()
        except (*_UNAVAILABLE, asyncpg.PostgresError) as exc:
            raise StoreUnavailableError(type(exc).__name__) from exc
        session = _PostgresIngest(self.pool, conn)
        try:
            await session.start()
        except BaseException:
            await self.pool.release(conn)
            raise
        return session

    async def load_drugs(self, rows: Sequence[Row]) -> int:
        async with self.pool.acquire() as conn, conn.transaction():
            # replicas starting together would otherwise interleave DELETE and COPY and collide on the key
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext('pmpdb.drug'))")
            await conn.execute("DELETE FROM drug")
            await conn.copy_records_to_table("drug", records=list(rows), columns=list(DRUG_COLUMNS))
        return len(rows)


class _PostgresIngest(IngestSession):
    def __init__(self, pool: asyncpg.Pool, conn: asyncpg.Connection) -> None:
        self._pool = pool
        self._conn = conn
        self._tx = conn.transaction()
        self._done = False

    async def start(self) -> None:
        await self._tx.start()
        await self._conn.execute(
            "CREATE TEMP TABLE IF NOT EXISTS dispensation_stage (LIKE dispensation) ON COMMIT DELETE ROWS"
        )

    async def upsert_pharmacies(self, rows: Sequence[Row]) -> None:
        await self._conn.executemany(_UPSERT_PHARMACY, rows)

    async def upsert_prescribers(self, rows: Sequence[Row]) -> None:
        await self._conn.executemany(_UPSERT_PRESCRIBER, rows)

    async def add_patients(self, patients: Sequence[tuple[Row, str, Sequence[str]]]) -> None:
        await self._conn.executemany(_INSERT_PATIENT, [p[0] for p in patients])
        await self._conn.executemany(
            "INSERT INTO patient_key (birth_date, key, patient_id) VALUES ($1,$2,$3) ON CONFLICT DO NOTHING",
            [(dob, key, row[0]) for row, dob, keys in patients for key in keys],
        )

    async def add_dispensations(self, rows: Sequence[Row]) -> int:
        if not rows:
            return 0
        await self._conn.execute("TRUNCATE dispensation_stage")
        await self._conn.copy_records_to_table("dispensation_stage", records=rows, columns=list(DISPENSATION_COLUMNS))
        status = await self._conn.execute(
            "INSERT INTO dispensation SELECT * FROM dispensation_stage ON CONFLICT (id) DO NOTHING"
        )
        return int(status.rsplit(" ", 1)[1])

    async def revise_dispensation(self, row: Row) -> bool:
        status = await self._conn.execute(_REVISE, *row)
        return bool(status != "UPDATE 0")

    async def void_dispensation(self, dispensation_id: int, source_file: int) -> VoidOutcome:
        status = await self._conn.execute("DELETE FROM dispensation WHERE id = $1", dispensation_id)
        if status != "DELETE 0":
            await self._conn.execute(
                "INSERT INTO voided_dispensation (id, source_file) VALUES ($1, $2)"
                " ON CONFLICT (id) DO UPDATE SET source_file = EXCLUDED.source_file",
                dispensation_id,
                source_file,
            )
            return "voided"
        seen = await self._conn.fetchval("SELECT 1 FROM voided_dispensation WHERE id = $1", dispensation_id)
        return "duplicate" if seen else "missing"

    async def add_zero_report(self, pharmacy_key: str, start: str, end: str, source_file: int) -> bool:
        status = await self._conn.execute(
            "INSERT INTO zero_report (pharmacy_key, period_start, period_end, source_file)"
            " VALUES ($1,$2,$3,$4) ON CONFLICT DO NOTHING",
            pharmacy_key,
            start,
            end,
            source_file,
        )
        return bool(status.endswith(" 1"))

    async def commit(self, file: FileRecord) -> None:
        c = file.counts
        await self._conn.execute(
            "INSERT INTO ingested_file (id, sha256, name, ingested_at, records, accepted, revised, voided,"
            " zero_reports, duplicates) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)",
            file.id,
            file.sha256,
            file.name,
            file.ingested_at,
            c.records,
            c.accepted,
            c.revised,
            c.voided,
            c.zero_reports,
            c.duplicates,
        )
        await self._tx.commit()
        await self._release()  # on a failed commit the caller's abort() releases the connection

    async def abort(self) -> None:
        if self._done:
            return
        try:
            await self._tx.rollback()
        except (asyncpg.InterfaceError, asyncpg.PostgresError, OSError):
            pass  # a failed commit or a dead connection: the server has rolled back already
        finally:
            await self._release()

    async def _release(self) -> None:
        self._done = True
        await self._pool.release(self._conn)
