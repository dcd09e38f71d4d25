"""Reader items → write operations: the pure, synchronous half of ingestion (no store, no I/O).

It can run in the ingesting process or in a worker process (``pmpdb.ingest.parallel``), so its output is plain
tuples that pickle cheaply. Operations, in file order:

- ``("rows", pharmacies, prescribers, patients, dispensations)`` — a batch of new rows, in dependency order;
- ``("revise", segment_number, row)`` / ``("void", segment_number, dispensation_id)`` — applied after the
  batch before them, so file order holds;
- ``("zero", pharmacy_key, period_start, period_end)``.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from adapters.asap.checks import iso_date
from adapters.asap.model import (
    REPORT_NEW,
    REPORT_REVISE,
    AsapError,
    DispensationRecord,
    Patient,
    Pharmacy,
    Prescriber,
    ZeroReport,
)
from pmpdb.patients import patient_identity
from pmpdb.store.base import Row

BATCH_SIZE = 5000

Operation = tuple[Any, ...]


def stable_id(text: str) -> int:
    """A positive 63-bit id from text: fits SQLite's rowid and PostgreSQL's BIGINT alike."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big") >> 1


def dispensation_id(pharmacy_key: str, rx_number: str, refill_number: int, date_filled: str) -> int:
    """The ASAP revise/void match: pharmacy + Rx number + refill number + date filled."""
    return stable_id(f"{pharmacy_key}|{rx_number}|{refill_number}|{date_filled}")


class Stager:
    """Builds store rows from reader items and groups them into operations.

    ``reader_errors`` is the reader's live error list: once it is non-empty the file will be rejected, so no
    more rows are built (records are still counted).
    """

    def __init__(self, file_id: int, reader_errors: list[AsapError], batch_size: int = BATCH_SIZE) -> None:
        self.records = 0
        self._file_id = file_id
        self._reader_errors = reader_errors
        self._batch_size = batch_size
        self._batch: list[Row] = []
        self._pharmacies: dict[str, Row] = {}
        self._prescriber_rows: list[Row] = []
        self._patient_rows: list[tuple[Row, str, tuple[str, ...]]] = []
        self._pharmacy: Pharmacy | None = None
        self._patient: Patient | None = None
        self._patient_id = 0
        self._patients: set[int] = set()
        self._prescribers: set[str] = set()

    def record(self, rec: DispensationRecord) -> tuple[Operation, ...] | None:
        """Stage one record; returns operations when they are due (a full batch, a revision, a void)."""
        self.records += 1
        if self._reader_errors:
            return None
        if rec.pharmacy is not self._pharmacy:
            self._stage_pharmacy(rec.pharmacy)
        if rec.patient is not self._patient:
            self._stage_patient(rec.patient)
        prescriber = rec.prescriber
        prescriber_key = self._stage_prescriber(prescriber) if prescriber is not None else ""
        dsp = rec.dispensing
        refill_number = int(dsp.refill_number or 0)
        date_filled = iso_date(dsp.date_filled)
        status = dsp.reporting_status
        row = (
            dispensation_id(rec.pharmacy.key, dsp.rx_number, refill_number, date_filled),
            self._patient_id,
            rec.pharmacy.key,
            prescriber_key,
            dsp.rx_number,
            iso_date(dsp.date_written),
            date_filled,
            iso_date(dsp.date_sold),
            refill_number,
            int(dsp.refills_authorized or 0),
            dsp.product_qualifier,
            dsp.product_id,
            float(dsp.quantity),
            dsp.unit_code,
            int(dsp.days_supply or 0),
            dsp.payment_type,
            dsp.partial_fill,
            dsp.transmission_form,
            dsp.pharmacist_npi,
            dsp.pharmacist_license,
            dsp.rxnorm_code,
            dsp.erx_reference,
            dsp.quantity_prescribed,
            dsp.sig,
            dsp.treatment_type,
            dsp.diagnosis_code,
            _extra(rec),
            "revised" if status == REPORT_REVISE else "reported",
            self._file_id,
        )
        if status == REPORT_NEW or not status:
            self._batch.append(row)
            return (self._rows(),) if len(self._batch) >= self._batch_size else None
        if status == REPORT_REVISE:
            return self._rows(), ("revise", rec.segment_number, row)
        return self._rows(), ("void", rec.segment_number, row[0])

    def zero_report(self, zero: ZeroReport) -> tuple[Operation, ...] | None:
        if self._reader_errors:
            return None
        self._stage_pharmacy(zero.pharmacy)
        return self._rows(), (
            "zero",
            zero.pharmacy.key,
            iso_date(zero.period_start),
            iso_date(zero.period_end),
        )

    def finish(self) -> tuple[Operation, ...]:
        return () if self._reader_errors else (self._rows(),)

    def _rows(self) -> Operation:
        """Everything staged so far as one ``rows`` operation (dispensations sorted: b-tree locality)."""
        self._batch.sort()
        op = ("rows", list(self._pharmacies.values()), self._prescriber_rows, self._patient_rows, self._batch)
        self._pharmacies = {}
        self._prescriber_rows = []
        self._patient_rows = []
        self._batch = []
        return op

    def _stage_pharmacy(self, p: Pharmacy) -> None:
        self._pharmacy = p
        self._pharmacies[p.key] = (
            p.key,
            p.npi,
            p.ncpdp,
            p.dea,
            p.name,
            p.address1,
            p.address2,
            p.city,
            p.state,
            p.zip,
            p.phone,
        )

    def _stage_patient(self, pat: Patient) -> None:
        self._patient = pat
        identity = patient_identity(pat)
        self._patient_id = identity.record_id
        if identity.record_id in self._patients:
            return
        self._patients.add(identity.record_id)
        row = (
            identity.record_id,
            pat.last_name,
            pat.first_name,
            pat.middle_name,
            pat.name_suffix,
            identity.birth_date,
            pat.gender,
            pat.address1,
            pat.address2,
            pat.city,
            pat.state,
            pat.zip,
            pat.phone,
            pat.id_jurisdiction,
            pat.id_qualifier,
            pat.id_value,
        )
        self._patient_rows.append((row, identity.birth_date, identity.keys))

    def _stage_prescriber(self, p: Prescriber) -> str:
        key = f"npi:{p.npi}" if p.npi else f"dea:{p.dea}{p.dea_suffix}"
        if key not in self._prescribers:
            self._prescribers.add(key)
            self._prescriber_rows.append(
                (key, p.npi, p.dea, p.dea_suffix, p.state_license, p.last_name, p.first_name, p.middle_name, p.phone)
            )
        return key


def _extra(rec: DispensationRecord) -> str:
    """Compound ingredients and AIR (rare) as JSON; empty for the usual record."""
    if not (rec.compounds or rec.additional):
        return ""
    return orjson.dumps({"compounds": rec.compounds, "additional": rec.additional}).decode()
