"""The store's tables, written once for both backends (types are chosen to mean the same in SQLite and PostgreSQL).

Why this shape (docs/architecture.md, "pmpdb store"):
- ``patient`` holds each distinct demographic variant a pharmacy reported, keyed by a hash of its normalised
  form, so re-ingesting the same patient finds the same row without a lookup.
- ``patient_key`` is the matching index: (birth date, blocking key) → patient record. A query looks up a handful
  of (dob, key) pairs — an index-only range scan — then scores the few candidates in Python.
- ``dispensation`` is keyed by a hash of pharmacy + Rx number + refill number + date filled (the ASAP
  revise/void match), so revisions and voids are primary-key operations. ``(patient_id, date_filled)`` serves
  the history query newest-first with the date range as an index range.
- ``pharmacy``, ``prescriber`` and ``drug`` are small reference tables joined at query time.
- Columns added later are listed in ``ADDED_COLUMNS`` and added on open (both backends), never by recreating.
"""

from __future__ import annotations

DISPENSATION_COLUMNS: tuple[str, ...] = (
    "id",
    "patient_id",
    "pharmacy_key",
    "prescriber_key",
    "rx_number",
    "date_written",
    "date_filled",
    "date_sold",
    "refill_number",
    "refills_authorized",
    "product_qualifier",
    "ndc",
    "quantity",
    "unit_code",
    "days_supply",
    "payment_type",
    "partial_fill",
    "transmission_form",
    "pharmacist_npi",
    "pharmacist_license",
    "rxnorm_code",
    "erx_reference",
    "quantity_prescribed",
    "sig",
    "treatment_type",
    "diagnosis_code",
    "extra",
    "status",
    "source_file",
)

PATIENT_COLUMNS: tuple[str, ...] = (
    "id",
    "last_name",
    "first_name",
    "middle_name",
    "name_suffix",
    "birth_date",
    "gender",
    "address1",
    "address2",
    "city",
    "state",
    "zip",
    "phone",
    "id_jurisdiction",
    "id_qualifier",
    "id_value",
)

PHARMACY_COLUMNS: tuple[str, ...] = (
    "key",
    "npi",
    "ncpdp",
    "dea",
    "name",
    "address1",
    "address2",
    "city",
    "state",
    "zip",
    "phone",
)

PRESCRIBER_COLUMNS: tuple[str, ...] = (
    "key",
    "npi",
    "dea",
    "dea_suffix",
    "state_license",
    "last_name",
    "first_name",
    "middle_name",
    "phone",
)

DRUG_COLUMNS: tuple[str, ...] = (
    "ndc",
    "name",
    "ingredient",
    "strength",
    "strength_unit",
    "dosage_form",
    "dea_schedule",
    "drug_class",
    "mme_factor",
    "lme_factor",
)

# Columns added after a table was first released: ``open`` adds each one a database lacks (``ALTER TABLE … ADD
# COLUMN``), so a store written by an older build upgrades in place. (table, column, type with its default)
ADDED_COLUMNS: tuple[tuple[str, str, str], ...] = (("drug", "lme_factor", "TEXT NOT NULL DEFAULT ''"),)


def _cols(names: tuple[str, ...], types: dict[str, str], default: str = "TEXT NOT NULL DEFAULT ''") -> str:
    return ",\n  ".join(f"{n} {types.get(n, default)}" for n in names)


_DISPENSATION_TYPES = {
    "id": "{DISPENSATION_ID}",
    "patient_id": "BIGINT NOT NULL",
    "refill_number": "INTEGER NOT NULL",
    "refills_authorized": "INTEGER NOT NULL",
    "quantity": "DOUBLE PRECISION NOT NULL",
    "days_supply": "INTEGER NOT NULL",
    "source_file": "BIGINT NOT NULL",
}

_TABLES: tuple[str, ...] = (
    f"CREATE TABLE IF NOT EXISTS patient (\n  {_cols(PATIENT_COLUMNS, {'id': '{ID} PRIMARY KEY'})}\n)",
    """CREATE TABLE IF NOT EXISTS patient_key (
  birth_date TEXT NOT NULL,
  key TEXT NOT NULL,
  patient_id BIGINT NOT NULL,
  PRIMARY KEY (birth_date, key, patient_id)
){WITHOUT_ROWID}""",
    f"CREATE TABLE IF NOT EXISTS pharmacy (\n  {_cols(PHARMACY_COLUMNS, {'key': 'TEXT PRIMARY KEY'})}\n)",
    f"CREATE TABLE IF NOT EXISTS prescriber (\n  {_cols(PRESCRIBER_COLUMNS, {'key': 'TEXT PRIMARY KEY'})}\n)",
    f"CREATE TABLE IF NOT EXISTS drug (\n  {_cols(DRUG_COLUMNS, {'ndc': 'TEXT PRIMARY KEY'})}\n)",
    f"CREATE TABLE IF NOT EXISTS dispensation (\n  {{ROW_NO}}{_cols(DISPENSATION_COLUMNS, _DISPENSATION_TYPES)}\n)",
    "CREATE INDEX IF NOT EXISTS dispensation_patient_filled ON dispensation (patient_id, date_filled)",
    """CREATE TABLE IF NOT EXISTS voided_dispensation (
  id {ID} PRIMARY KEY,
  source_file BIGINT NOT NULL
)""",
    """CREATE TABLE IF NOT EXISTS zero_report (
  pharmacy_key TEXT NOT NULL,
  period_start TEXT NOT NULL,
  period_end TEXT NOT NULL,
  source_file BIGINT NOT NULL,
  PRIMARY KEY (pharmacy_key, period_start, period_end)
){WITHOUT_ROWID}""",
    """CREATE TABLE IF NOT EXISTS ingested_file (
  id {ID} PRIMARY KEY,
  sha256 TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  ingested_at TEXT NOT NULL,
  records INTEGER NOT NULL,
  accepted INTEGER NOT NULL,
  revised INTEGER NOT NULL,
  voided INTEGER NOT NULL,
  zero_reports INTEGER NOT NULL,
  duplicates INTEGER NOT NULL
)""",
)


def tables(dialect: str) -> list[str]:
    """DDL for ``dialect`` ("sqlite" | "postgres"): 64-bit ids are the rowid in SQLite, BIGINT in PostgreSQL."""
    sqlite = dialect == "sqlite"
    id_type, suffix = ("INTEGER", " WITHOUT ROWID") if sqlite else ("BIGINT", "")
    # SQLite: dispensations get a sequential rowid and a UNIQUE hash id. Ingest then appends to the table
    # b-tree and inserts at random only into the small id index; with the hash as rowid, every insert hit a
    # random page of the whole table (measured at 1M rows, 64 MiB cache: 147k vs 94k rows/s).
    row_no, dispensation_id = (
        ("row_no INTEGER PRIMARY KEY,\n  ", "INTEGER NOT NULL UNIQUE") if sqlite else ("", "BIGINT PRIMARY KEY")
    )
    return [
        t.replace("{ID}", id_type)
        .replace("{WITHOUT_ROWID}", suffix)
        .replace("{ROW_NO}", row_no)
        .replace("{DISPENSATION_ID}", dispensation_id)
        for t in _TABLES
    ]


# What the history query selects: only what is rendered (perf-budget: every extra column costs). Columns 36–43 are
# the drug reference's for MME (``pmpdb.indicators.collect.DrugColumns``), in the same order as INDICATOR_SELECT's
# 7–14, so one slice of either row keys the same cache entry.
HISTORY_SELECT = """
SELECT d.id, d.patient_id, d.rx_number, d.date_written, d.date_filled, d.date_sold,
       d.refill_number, d.refills_authorized, d.product_qualifier, d.ndc, d.quantity, d.unit_code,
       d.days_supply, d.payment_type, d.partial_fill, d.transmission_form, d.status, d.pharmacist_npi,
       d.rxnorm_code,
       ph.npi, ph.ncpdp, ph.dea, ph.name, ph.address1, ph.address2, ph.city, ph.state, ph.zip, ph.phone,
       pr.npi, pr.dea, pr.state_license, pr.last_name, pr.first_name, pr.middle_name,
       dr.name, dr.strength, dr.strength_unit, dr.dosage_form, dr.dea_schedule, dr.drug_class,
       dr.ingredient, dr.mme_factor, dr.lme_factor, d.pharmacy_key, d.prescriber_key
FROM dispensation d
JOIN pharmacy ph ON ph.key = d.pharmacy_key
LEFT JOIN prescriber pr ON pr.key = d.prescriber_key
LEFT JOIN drug dr ON dr.ndc = d.ndc
"""

# What the indicators need of every fill in the period (pmpdb.indicators), when the page does not hold them all:
# no pharmacy or prescriber join — their keys identify them.
INDICATOR_SELECT = """
SELECT d.date_filled, d.days_supply, d.quantity, d.unit_code, d.pharmacy_key, d.prescriber_key, d.rx_number,
       dr.strength, dr.strength_unit, dr.dosage_form, dr.dea_schedule, dr.drug_class, dr.ingredient, dr.mme_factor,
       dr.lme_factor
FROM dispensation d
LEFT JOIN drug dr ON dr.ndc = d.ndc
"""
