"""The audit trail's tables: one DDL for SQLite and PostgreSQL, created with ``IF NOT EXISTS`` (no migrations yet).

- ``audit_record``: the chain. ``seq`` 1, 2, … with no gaps; ``prev_hash``/``hash`` link it (``record.chain_hash``).
  Append-only: a trigger refuses every UPDATE, and every DELETE outside a purge (a purge marks itself in
  ``audit_purging`` inside its own transaction). The triggers stop accidents; the chain is what exposes tampering.
- ``audit_head``: one row, the last ``seq`` and ``hash``. Writers lock it (SQLite ``BEGIN IMMEDIATE``, PostgreSQL
  ``SELECT … FOR UPDATE``) before taking the previous hash, so several processes keep one linear chain; ``verify``
  compares the last record with it (a deleted tail shows).
- ``audit_patient``: (matched patient id, seq) — an index over ``audit_record.patients`` for the accounting of
  disclosures, written in the same transaction. Derived data: not hashed.
- ``audit_hold``: investigation holds, keyed by a matched patient id or by a case number, with an end date
  (``until``, inclusive). Records under an active hold are left out of accountings and kept by purges.

Statements use ``?`` placeholders; the PostgreSQL backend numbers them. ``{seq}`` is the integer type of ``seq``
(SQLite INTEGER is 64-bit; PostgreSQL needs BIGINT).
"""

# SQL text is assembled only from the constant column list of ``record.COLUMNS``; values are always bound.
# ruff: noqa: S608

from __future__ import annotations

from gateway.audit.record import COLUMNS, GENESIS

_TEXT_COLUMNS = ",\n".join(f"  {name} TEXT NOT NULL DEFAULT ''" for name in COLUMNS if name != "records")

TABLES: tuple[str, ...] = (
    f"""CREATE TABLE IF NOT EXISTS audit_record (
  seq {{seq}} PRIMARY KEY,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL,
{_TEXT_COLUMNS},
  records INTEGER NOT NULL DEFAULT 0
)""",
    "CREATE INDEX IF NOT EXISTS audit_record_time ON audit_record (time)",
    "CREATE INDEX IF NOT EXISTS audit_record_subject ON audit_record (q_dob, q_last) WHERE q_dob <> ''",
    "CREATE INDEX IF NOT EXISTS audit_record_case ON audit_record (case_number) WHERE case_number <> ''",
    """CREATE TABLE IF NOT EXISTS audit_patient (
  patient_id TEXT NOT NULL,
  seq {seq} NOT NULL,
  PRIMARY KEY (patient_id, seq)
)""",
    "CREATE INDEX IF NOT EXISTS audit_patient_seq ON audit_patient (seq)",
    """CREATE TABLE IF NOT EXISTS audit_head (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  seq {seq} NOT NULL,
  hash TEXT NOT NULL
)""",
    f"INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '{GENESIS}') ON CONFLICT (id) DO NOTHING",
    "CREATE TABLE IF NOT EXISTS audit_purging (id INTEGER PRIMARY KEY CHECK (id = 1))",
    """CREATE TABLE IF NOT EXISTS audit_hold (
  id TEXT PRIMARY KEY,
  patient_id TEXT NOT NULL DEFAULT '',
  case_number TEXT NOT NULL DEFAULT '',
  until TEXT NOT NULL,
  reason TEXT NOT NULL DEFAULT '',
  created_at TEXT NOT NULL,
  created_by TEXT NOT NULL DEFAULT '',
  CHECK ((patient_id = '') <> (case_number = ''))
)""",
)

SQLITE_TRIGGERS: tuple[str, ...] = (
    """CREATE TRIGGER IF NOT EXISTS audit_record_no_update BEFORE UPDATE ON audit_record
BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END""",
    """CREATE TRIGGER IF NOT EXISTS audit_record_no_delete BEFORE DELETE ON audit_record
WHEN NOT EXISTS (SELECT 1 FROM audit_purging)
BEGIN SELECT RAISE(ABORT, 'audit records are deleted by a purge only'); END""",
)

POSTGRES_TRIGGERS: tuple[str, ...] = (
    """CREATE OR REPLACE FUNCTION audit_record_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' THEN
    RAISE EXCEPTION 'audit records are append-only';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM audit_purging) THEN
    RAISE EXCEPTION 'audit records are deleted by a purge only';
  END IF;
  RETURN OLD;
END $$""",
    """CREATE OR REPLACE TRIGGER audit_record_guard BEFORE UPDATE OR DELETE ON audit_record
FOR EACH ROW EXECUTE FUNCTION audit_record_guard()""",
)

RECORD_COLUMNS = "seq, prev_hash, hash, " + ", ".join(COLUMNS)
INSERT_RECORD = f"INSERT INTO audit_record ({RECORD_COLUMNS}) VALUES ({', '.join('?' * (len(COLUMNS) + 3))})"
SELECT_RECORD = f"SELECT {RECORD_COLUMNS} FROM audit_record"
INSERT_PATIENT = "INSERT INTO audit_patient (patient_id, seq) VALUES (?, ?)"
SELECT_HEAD = "SELECT seq, hash FROM audit_head WHERE id = 1"
UPDATE_HEAD = "UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1"

# Purge: the first record to keep is the first one at or after the cut-off time, or the first one under an active
# hold, whichever comes first (a purge removes a prefix of the chain, so the rest still links).
FIRST_SEQ = "SELECT MIN(seq) FROM audit_record"
FIRST_SEQ_FROM = "SELECT MIN(seq) FROM audit_record WHERE time >= ?"
FIRST_HELD_SEQ = """SELECT MIN(r.seq) FROM audit_record r WHERE r.seq < ? AND (
  (r.case_number <> '' AND r.case_number IN (SELECT case_number FROM audit_hold WHERE case_number <> '' AND until >= ?))
  OR r.seq IN (SELECT p.seq FROM audit_patient p JOIN audit_hold h ON h.patient_id = p.patient_id
               WHERE h.patient_id <> '' AND h.until >= ?))"""
HASH_OF = "SELECT hash FROM audit_record WHERE seq = ?"
COUNT_BEFORE = "SELECT COUNT(*) FROM audit_record WHERE seq < ?"
MARK_PURGING = "INSERT INTO audit_purging (id) VALUES (1)"
UNMARK_PURGING = "DELETE FROM audit_purging"
DELETE_PATIENTS_BEFORE = "DELETE FROM audit_patient WHERE seq < ?"
DELETE_RECORDS_BEFORE = "DELETE FROM audit_record WHERE seq < ?"

HOLD_COLUMNS = "id, patient_id, case_number, until, reason, created_at, created_by"
INSERT_HOLD = f"INSERT INTO audit_hold ({HOLD_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"
SELECT_HOLD = f"SELECT {HOLD_COLUMNS} FROM audit_hold"
DELETE_HOLD = "DELETE FROM audit_hold WHERE id = ?"
