"""Write operations → the store: the transactional half of ingestion.

A revision or void of a dispensation that is not on file is an error of the file; after the first error of
any kind nothing more is written (the caller rolls the transaction back).
"""

from __future__ import annotations

from adapters.asap.model import AsapError
from pmpdb.ingest.stage import Operation
from pmpdb.store.base import IngestCounts, IngestSession


class Writer:
    def __init__(self, session: IngestSession, file_id: int, counts: IngestCounts) -> None:
        self._session = session
        self._file_id = file_id
        self._counts = counts
        self.errors: list[AsapError] = []

    async def apply(self, op: Operation) -> None:
        if self.errors:
            return
        kind = op[0]
        session = self._session
        if kind == "rows":
            _, pharmacies, prescribers, patients, dispensations = op
            if pharmacies:
                await session.upsert_pharmacies(pharmacies)
            if prescribers:
                await session.upsert_prescribers(prescribers)
            if patients:
                await session.add_patients(patients)
            if dispensations:
                new = await session.add_dispensations(dispensations)
                self._counts.accepted += new
                self._counts.duplicates += len(dispensations) - new
        elif kind == "revise":
            if await session.revise_dispensation(op[2]):
                self._counts.revised += 1
            else:
                self._error(op[1], "revision of a dispensation that is not on file")
        elif kind == "void":
            outcome = await session.void_dispensation(op[2], self._file_id)
            if outcome == "voided":
                self._counts.voided += 1
            elif outcome == "duplicate":
                self._counts.duplicates += 1
            else:
                self._error(op[1], "void of a dispensation that is not on file")
        elif kind == "zero":
            if await session.add_zero_report(op[1], op[2], op[3], self._file_id):
                self._counts.zero_reports += 1
            else:
                self._counts.duplicates += 1
        else:  # pragma: no cover - the stager emits only the kinds above
            raise ValueError(f"unknown ingest operation {kind!r}")

    def _error(self, segment_number: int, reason: str) -> None:
        self.errors.append(AsapError(segment_number, "DSP", "DSP01", reason))
