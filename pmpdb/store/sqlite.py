"""SQLite backend: the embedded default.

Queries run synchronously on the event loop on purpose: a 25-row indexed query costs ~100 µs, and handing it
to a thread more than doubles that (``shared/reference/perf-budget.md`` §6). WAL lets ``pmp-gateway ingest``
write from another process while ``serve`` reads.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Sequence
from pathlib import Path

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


def _placeholders(n: int) -> str:
    return ",".join("?" * n)


_INSERT_DISPENSATION = (
    f"INSERT OR IGNORE INTO dispensation ({','.join(DISPENSATION_COLUMNS)}) "
    f"VALUES ({_placeholders(len(DISPENSATION_COLUMNS))})"
)
_REVISE_DISPENSATION = (
    f"UPDATE dispensation SET ({','.join(DISPENSATION_COLUMNS[1:])}) = "
    f"({_placeholders(len(DISPENSATION_COLUMNS) - 1)}) WHERE id = ?"
)
_INSERT_PATIENT = (
    f"INSERT OR IGNORE INTO patient ({','.join(PATIENT_COLUMNS)}) VALUES ({_placeholders(len(PATIENT_COLUMNS))})"
)
_UPSERT_PHARMACY = (
    f"INSERT OR REPLACE INTO pharmacy ({','.join(PHARMACY_COLUMNS)}) VALUES ({_placeholders(len(PHARMACY_COLUMNS))})"
)
_UPSERT_PRESCRIBER = (
    f"INSERT OR REPLACE INTO prescriber ({','.join(PRESCRIBER_COLUMNS)}) "
    f"VALUES ({_placeholders(len(PRESCRIBER_COLUMNS))})"
)
_PATIENT_SELECT = f"SELECT {','.join('p.' + c for c in PATIENT_COLUMNS)} FROM patient p"


class SqliteStore(Store):
    """The dispensation store in one SQLite file."""

    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        self._path = path
        self._readonly = readonly
        self._conn: sqlite3.Connection | None = None
        self._history_sql: dict[tuple[int, bool], str] = {}
        self._candidate_sql: dict[tuple[int, int], str] = {}
        self._indicator_sql: dict[int, str] = {}

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreUnavailableError("store is not open")
        return self._conn

    async def open(self) -> None:
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=5000")
            # 32 MiB per connection (one per gateway worker): the OS page cache holds the rest of the file, and a
            # worker stays inside its 150 MB resident budget (issue 3) — 64 MiB took it to 152 MB under load.
            conn.execute("PRAGMA cache_size=-32768")
            conn.execute("PRAGMA temp_store=MEMORY")
            for ddl in tables("sqlite"):
                conn.execute(ddl)
            _add_columns(conn)
            self._conn = conn
        except sqlite3.Error as exc:
            raise StoreUnavailableError(f"cannot open the SQLite store: {exc}") from exc

    async def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    async def ping(self) -> None:
        try:
            self.conn.execute("SELECT 1").fetchone()
        except sqlite3.Error as exc:
            raise StoreUnavailableError(str(exc)) from exc

    async def is_empty(self) -> bool:
        row = self.conn.execute(
            "SELECT (SELECT count(*) FROM (SELECT 1 FROM dispensation LIMIT 1))"
            " + (SELECT count(*) FROM (SELECT 1 FROM ingested_file LIMIT 1))"
        ).fetchone()
        return bool(row[0] == 0)

    async def count_dispensations(self) -> int:
        return int(self.conn.execute("SELECT count(*) FROM dispensation").fetchone()[0])

    async def drug_count(self) -> int:
        return int(self.conn.execute("SELECT count(*) FROM drug").fetchone()[0])

    async def candidates(self, birth_dates: Collection[str], keys: Collection[str], limit: int) -> list[PatientRecord]:
        shape = (len(birth_dates), len(keys))
        sql = self._candidate_sql.get(shape)
        if sql is None:
            sql = (
                f"{_PATIENT_SELECT} WHERE p.id IN (SELECT DISTINCT patient_id FROM patient_key"
                f" WHERE birth_date IN ({_placeholders(shape[0])}) AND key IN ({_placeholders(shape[1])})"
                " LIMIT ?)"
            )
            self._candidate_sql[shape] = sql
        try:
            rows = self.conn.execute(sql, (*birth_dates, *keys, limit)).fetchall()
        except sqlite3.Error as exc:
            raise StoreUnavailableError(str(exc)) from exc
        return [PatientRecord(*r) for r in rows]

    async def patient_by_id(self, patient_id: int) -> PatientRecord | None:
        try:
            row = self.conn.execute(f"{_PATIENT_SELECT} WHERE p.id = ?", (patient_id,)).fetchone()
        except sqlite3.Error as exc:
            raise StoreUnavailableError(str(exc)) from exc
        return PatientRecord(*row) if row else None

    async def history(
        self,
        patient_ids: Sequence[int],
        start: str,
        end: str,
        limit: int,
        after: tuple[str, int] | None,
    ) -> DispensationPage:
        n = len(patient_ids)
        if n == 0:
            return DispensationPage([], 0)
        key = (n, after is not None)
        sql = self._history_sql.get(key)
        if sql is None:
            keyset = " AND (d.date_filled < ? OR (d.date_filled = ? AND d.id < ?))" if after else ""
            sql = (
                f"{HISTORY_SELECT} WHERE d.patient_id IN ({_placeholders(n)})"
                f" AND d.date_filled BETWEEN ? AND ?{keyset}"
                " ORDER BY d.date_filled DESC, d.id DESC LIMIT ?"
            )
            self._history_sql[key] = sql
        params: list[object] = [*patient_ids, start, end]
        if after is not None:
            params += [after[0], after[0], after[1]]
        params.append(limit)
        try:
            conn = self.conn
            rows = conn.execute(sql, params).fetchall()
            if after is None and len(rows) < limit:
                total = len(rows)
            else:
                total = conn.execute(
                    f"SELECT count(*) FROM dispensation d WHERE d.patient_id IN ({_placeholders(n)})"
                    " AND d.date_filled BETWEEN ? AND ?",
                    (*patient_ids, start, end),
                ).fetchone()[0]
        except sqlite3.Error as exc:
            raise StoreUnavailableError(str(exc)) from exc
        return DispensationPage(rows, int(total))

    async def indicator_rows(self, patient_ids: Sequence[int], start: str, end: str) -> list[IndicatorRow]:
        n = len(patient_ids)
        if n == 0:
            return []
        sql = self._indicator_sql.get(n)
        if sql is None:
            sql = self._indicator_sql[n] = (
                f"{INDICATOR_SELECT} WHERE d.patient_id IN ({_placeholders(n)}) AND d.date_filled BETWEEN ? AND ?"
            )
        try:
            return self.conn.execute(sql, (*patient_ids, start, end)).fetchall()
        except sqlite3.Error as exc:
            raise StoreUnavailableError(str(exc)) from exc

    async def file_by_sha256(self, sha256: str) -> FileRecord | None:
        row = self.conn.execute(
            "SELECT id, sha256, name, ingested_at, records, accepted, revised, voided, zero_reports, duplicates"
            " FROM ingested_file WHERE sha256 = ?",
            (sha256,),
        ).fetchone()
        if row is None:
            return None
        return FileRecord(row[0], row[1], row[2], row[3], IngestCounts(*row[4:]))

    async def begin_ingest(self) -> IngestSession:
        self.conn.execute("BEGIN IMMEDIATE")
        return _SqliteIngest(self.conn)

    async def load_drugs(self, rows: Sequence[Row]) -> int:
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute("DELETE FROM drug")
            conn.executemany(
                f"INSERT INTO drug ({','.join(DRUG_COLUMNS)}) VALUES ({_placeholders(len(DRUG_COLUMNS))})",
                rows,
            )
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return len(rows)


def _add_columns(conn: sqlite3.Connection) -> None:
    """``schema.ADDED_COLUMNS`` that an older database lacks (SQLite has no ``ADD COLUMN IF NOT EXISTS``)."""
    for table, column, kind in ADDED_COLUMNS:
        present = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
        if column not in present:
            try:
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
            except sqlite3.OperationalError as exc:  # another process opening the same file added it first
                if "duplicate column" not in str(exc):
                    raise


class _SqliteIngest(IngestSession):
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    async def upsert_pharmacies(self, rows: Sequence[Row]) -> None:
        self._conn.executemany(_UPSERT_PHARMACY, rows)

    async def upsert_prescribers(self, rows: Sequence[Row]) -> None:
        self._conn.executemany(_UPSERT_PRESCRIBER, rows)

    async def add_patients(self, patients: Sequence[tuple[Row, str, Sequence[str]]]) -> None:
        self._conn.executemany(_INSERT_PATIENT, [p[0] for p in patients])
        self._conn.executemany(
            "INSERT OR IGNORE INTO patient_key (birth_date, key, patient_id) VALUES (?,?,?)",
            [(dob, key, row[0]) for row, dob, keys in patients for key in keys],
        )

    async def add_dispensations(self, rows: Sequence[Row]) -> int:
        return self._conn.executemany(_INSERT_DISPENSATION, rows).rowcount

    async def revise_dispensation(self, row: Row) -> bool:
        return self._conn.execute(_REVISE_DISPENSATION, (*row[1:], row[0])).rowcount > 0

    async def void_dispensation(self, dispensation_id: int, source_file: int) -> VoidOutcome:
        if self._conn.execute("DELETE FROM dispensation WHERE id = ?", (dispensation_id,)).rowcount:
            self._conn.execute(
                "INSERT OR REPLACE INTO voided_dispensation (id, source_file) VALUES (?, ?)",
                (dispensation_id, source_file),
            )
            return "voided"
        seen = self._conn.execute("SELECT 1 FROM voided_dispensation WHERE id = ?", (dispensation_id,)).fetchone()
        return "duplicate" if seen else "missing"

    async def add_zero_report(self, pharmacy_key: str, start: str, end: str, source_file: int) -> bool:
        cur = self._conn.execute(
            "INSERT OR IGNORE INTO zero_report (pharmacy_key, period_start, period_end, source_file) VALUES (?,?,?,?)",
            (pharmacy_key, start, end, source_file),
        )
        return cur.rowcount > 0

    async def commit(self, file: FileRecord) -> None:
        c = file.counts
        self._conn.execute(
            "INSERT INTO ingested_file (id, sha256, name, ingested_at, records, accepted, revised, voided,"
            " zero_reports, duplicates) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (
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
            ),
        )
        self._conn.execute("COMMIT")

    async def abort(self) -> None:
        if self._conn.in_transaction:
            self._conn.execute("ROLLBACK")
