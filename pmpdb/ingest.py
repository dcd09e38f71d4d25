"""ASAP 4.2 ingestion: stream a file through the reader into the store, all of it or nothing.

One pass, one transaction. Records are written in batches as they are read; a revision or a void first
flushes the pending batch, so file order is respected. If the reader reports an error, or a revision / void
names a dispensation that is not on file, writing stops, the rest of the file is still read (to report every
error at once) and the transaction is rolled back: nothing of a rejected file is loaded.

A file already accepted (same SHA-256) is not read again: re-ingesting changes nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from adapters.asap.model import (
    REPORT_NEW,
    REPORT_REVISE,
    REPORT_VOID,
    AsapError,
    DispensationRecord,
    Patient,
    Pharmacy,
    Prescriber,
    ZeroReport,
)
from adapters.asap.reader import AsapReader
from pmpdb.patients import patient_identity
from pmpdb.store.base import FileRecord, IngestCounts, IngestSession, Row, Store

BATCH_SIZE = 5000
_HASH_CHUNK = 1 << 20


def stable_id(text: str) -> int:
    """A positive 63-bit id from text: fits SQLite's rowid and PostgreSQL's BIGINT alike."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big") >> 1


def dispensation_id(pharmacy_key: str, rx_number: str, refill_number: int, date_filled: str) -> int:
    """The ASAP revise/void match: pharmacy + Rx number + refill number + date filled."""
    return stable_id(f"{pharmacy_key}|{rx_number}|{refill_number}|{date_filled}")


def iso_date(ccyymmdd: str) -> str:
    """CCYYMMDD (already validated by the reader) → YYYY-MM-DD; empty stays empty."""
    return f"{ccyymmdd[:4]}-{ccyymmdd[4:6]}-{ccyymmdd[6:8]}" if ccyymmdd else ""


@dataclass(slots=True)
class IngestReport:
    """The outcome of one file, as the CLI prints it."""

    file: str
    counts: IngestCounts = field(default_factory=IngestCounts)
    errors: list[AsapError] = field(default_factory=list)
    already_ingested: bool = False

    @property
    def rejected(self) -> bool:
        return bool(self.errors)

    def as_json(self) -> dict[str, Any]:
        c = self.counts
        return {
            "file": self.file,
            "status": "rejected" if self.rejected else ("already-ingested" if self.already_ingested else "accepted"),
            "records": c.records,
            "accepted": 0 if self.rejected else c.accepted,
            "revised": 0 if self.rejected else c.revised,
            "voided": 0 if self.rejected else c.voided,
            "zero_reports": 0 if self.rejected else c.zero_reports,
            "duplicates": 0 if self.rejected else c.duplicates,
            "errors": [
                {
                    "segment_number": e.segment_number,
                    "segment": e.segment,
                    "field": e.field,
                    "reason": e.reason,
                }
                for e in self.errors
            ],
        }


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


async def ingest_path(store: Store, path: Path, *, progress: Callable[[int], None] | None = None) -> IngestReport:
    """Ingest one ASAP file from disk (the ``pmp-gateway ingest`` path)."""
    sha256 = file_sha256(path)
    with path.open("rb") as raw:
        stream: BinaryIO = _ProgressStream(raw, progress) if progress else raw  # type: ignore[assignment]
        return await ingest_stream(store, stream, name=path.name, sha256=sha256)


async def ingest_stream(store: Store, stream: BinaryIO, *, name: str, sha256: str) -> IngestReport:
    """Ingest an ASAP stream whose SHA-256 the caller computed (the idempotency key)."""
    report = IngestReport(file=name)
    seen = await store.file_by_sha256(sha256)
    if seen is not None:
        report.already_ingested = True
        report.counts = IngestCounts(records=seen.counts.records, duplicates=seen.counts.records)
        return report
    file_id = stable_id("file:" + sha256)
    session = await store.begin_ingest()
    try:
        reader = AsapReader(stream)
        loader = _Loader(session, file_id, report, reader.errors)
        for item in reader:
            # The common case (a new record) is staged synchronously; the store is awaited per batch only.
            if type(item) is DispensationRecord:
                if loader.stage(item):
                    await loader.apply_pending()
            elif type(item) is ZeroReport:
                await loader.zero_report(item)
        await loader.flush()
        report.errors = list(reader.errors) + loader.errors
        if report.errors:
            await session.abort()
            return report
        await session.commit(
            FileRecord(file_id, sha256, name, datetime.now(UTC).isoformat(timespec="seconds"), report.counts)
        )
    except BaseException:
        await session.abort()
        raise
    return report


class _Loader:
    """Turns reader items into store rows. Everything is staged and written per batch, in dependency order
    (pharmacies, prescribers, patients, then dispensations sorted by id for b-tree locality); a revision or a
    void first writes the staged batch, so file order holds."""

    def __init__(
        self, session: IngestSession, file_id: int, report: IngestReport, reader_errors: list[AsapError]
    ) -> None:
        self._session = session
        self._file_id = file_id
        self._counts = report.counts
        self._reader_errors = reader_errors
        self.errors: list[AsapError] = []
        self._batch: list[Row] = []
        self._pending: tuple[DispensationRecord, Row] | None = None
        self._pharmacies: dict[str, Row] = {}
        self._prescriber_rows: list[Row] = []
        self._patient_rows: list[tuple[Row, str, tuple[str, ...]]] = []
        self._pharmacy: Pharmacy | None = None
        self._patient: Patient | None = None
        self._patient_id = 0
        self._patients: set[int] = set()
        self._prescribers: set[str] = set()

    @property
    def _writing(self) -> bool:
        """Stop writing at the first error: the transaction will be rolled back anyway."""
        return not (self.errors or self._reader_errors)

    def stage(self, rec: DispensationRecord) -> bool:
        """Stage one record; True when the store must be awaited now (a full batch, a revision, a void)."""
        self._counts.records += 1
        if not self._writing:
            return False
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
            return len(self._batch) >= BATCH_SIZE
        self._pending = (rec, row)
        return True

    async def apply_pending(self) -> None:
        """Write the staged batch, then the revision or void that asked for it (if any)."""
        await self.flush()
        if self._pending is None:
            return
        rec, row = self._pending
        self._pending = None
        if not self._writing:
            return
        if rec.dispensing.reporting_status == REPORT_VOID:
            outcome = await self._session.void_dispensation(row[0], self._file_id)
            if outcome == "voided":
                self._counts.voided += 1
            elif outcome == "duplicate":
                self._counts.duplicates += 1
            else:
                self._error(rec, "DSP01", "void of a dispensation that is not on file")
        elif await self._session.revise_dispensation(row):
            self._counts.revised += 1
        else:
            self._error(rec, "DSP01", "revision of a dispensation that is not on file")

    async def zero_report(self, zero: ZeroReport) -> None:
        if not self._writing:
            return
        self._stage_pharmacy(zero.pharmacy)
        await self.flush()
        added = await self._session.add_zero_report(
            zero.pharmacy.key, iso_date(zero.period_start), iso_date(zero.period_end), self._file_id
        )
        if added:
            self._counts.zero_reports += 1
        else:
            self._counts.duplicates += 1

    async def flush(self) -> None:
        if not self._writing:
            self._batch.clear()
            return
        session = self._session
        if self._pharmacies:
            await session.upsert_pharmacies(list(self._pharmacies.values()))
            self._pharmacies.clear()
        if self._prescriber_rows:
            await session.upsert_prescribers(self._prescriber_rows)
            self._prescriber_rows = []
        if self._patient_rows:
            await session.add_patients(self._patient_rows)
            self._patient_rows = []
        if self._batch:
            self._batch.sort()
            new = await session.add_dispensations(self._batch)
            self._counts.accepted += new
            self._counts.duplicates += len(self._batch) - new
            self._batch = []

    def _error(self, rec: DispensationRecord, field_id: str, reason: str) -> None:
        self.errors.append(AsapError(rec.segment_number, "DSP", field_id, reason))

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


class _ProgressStream:
    """A read-only stream wrapper that reports bytes read (for the terminal progress bar)."""

    def __init__(self, raw: BinaryIO, progress: Callable[[int], None]) -> None:
        self._raw = raw
        self._progress = progress

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        self._progress(len(data))
        return data
