"""What every store backend offers: patient candidates, history pages, and a transactional ingest session.

The search and ingest logic (``pmpdb.search``, ``pmpdb.ingest``) is written once against this interface; the
backends only speak SQL. Rows travel as plain tuples in the column order of ``pmpdb.store.schema`` — the hot
path builds no intermediate objects.
"""

from __future__ import annotations

import abc
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pmpdb.store.schema import PATIENT_COLUMNS

Row = tuple[Any, ...]
DispensationRow = Row  # in schema.HISTORY_SELECT order
IndicatorRow = Row  # in schema.INDICATOR_SELECT order
VoidOutcome = Literal["voided", "duplicate", "missing"]


class StoreError(Exception):
    """Base of the store's errors."""


class StoreUnavailableError(StoreError, ConnectionError):
    """The database cannot be reached or answered with a server-side failure."""


@dataclass(slots=True, frozen=True)
class PatientRecord:
    """One patient as a pharmacy reported them (a ``patient`` row)."""

    id: int
    last_name: str
    first_name: str
    middle_name: str
    name_suffix: str
    birth_date: str
    gender: str
    address1: str
    address2: str
    city: str
    state: str
    zip: str
    phone: str
    id_jurisdiction: str
    id_qualifier: str
    id_value: str

    def as_row(self) -> Row:
        return tuple(getattr(self, c) for c in PATIENT_COLUMNS)


@dataclass(slots=True, frozen=True)
class DispensationPage:
    rows: list[DispensationRow]
    total: int  # rows in the date range across all pages


@dataclass(slots=True)
class IngestCounts:
    """What one ingest run did; also what ``ingested_file`` remembers per accepted file."""

    records: int = 0
    accepted: int = 0
    revised: int = 0
    voided: int = 0
    zero_reports: int = 0
    duplicates: int = 0


@dataclass(slots=True, frozen=True)
class FileRecord:
    id: int
    sha256: str
    name: str
    ingested_at: str
    counts: IngestCounts


class IngestSession(abc.ABC):
    """One file's writes in one transaction: all of it lands, or (``abort``) none of it."""

    @abc.abstractmethod
    async def upsert_pharmacies(self, rows: Sequence[Row]) -> None:
        """Insert or refresh pharmacies (``schema.PHARMACY_COLUMNS`` order): the latest file's details win."""

    @abc.abstractmethod
    async def upsert_prescribers(self, rows: Sequence[Row]) -> None: ...

    @abc.abstractmethod
    async def add_patients(self, patients: Sequence[tuple[Row, str, Sequence[str]]]) -> None:
        """Insert (patient row, birth date, matching keys) unless already there; keys are (re)indexed."""

    @abc.abstractmethod
    async def add_dispensations(self, rows: Sequence[Row]) -> int:
        """Insert new dispensations; returns how many were new (the rest were already on file)."""

    @abc.abstractmethod
    async def revise_dispensation(self, row: Row) -> bool:
        """Replace the dispensation with ``row[0]``'s id; False when there is none to revise."""

    @abc.abstractmethod
    async def void_dispensation(self, dispensation_id: int, source_file: int) -> VoidOutcome: ...

    @abc.abstractmethod
    async def add_zero_report(self, pharmacy_key: str, start: str, end: str, source_file: int) -> bool:
        """Record a zero report; False when the same one is already on file."""

    @abc.abstractmethod
    async def commit(self, file: FileRecord) -> None: ...

    @abc.abstractmethod
    async def abort(self) -> None: ...


class Store(abc.ABC):
    """A dispensation store backend."""

    @abc.abstractmethod
    async def open(self) -> None:
        """Connect and create the schema if it is missing."""

    @abc.abstractmethod
    async def close(self) -> None: ...

    @abc.abstractmethod
    async def ping(self) -> None:
        """Raise ``StoreUnavailableError`` unless the database answers."""

    @abc.abstractmethod
    async def is_empty(self) -> bool:
        """True when no dispensation and no file has ever been stored."""

    @abc.abstractmethod
    async def candidates(self, birth_dates: Collection[str], keys: Collection[str], limit: int) -> list[PatientRecord]:
        """Patient records with one of ``birth_dates`` and one of the matching ``keys``."""

    @abc.abstractmethod
    async def patient_by_id(self, patient_id: int) -> PatientRecord | None: ...

    @abc.abstractmethod
    async def history(
        self,
        patient_ids: Sequence[int],
        start: str,
        end: str,
        limit: int,
        after: tuple[str, int] | None,
    ) -> DispensationPage:
        """Dispensations of these patient records filled in [start, end], newest first, keyset-paged."""

    @abc.abstractmethod
    async def indicator_rows(self, patient_ids: Sequence[int], start: str, end: str) -> list[IndicatorRow]:
        """Every dispensation of these patient records filled in [start, end], in no particular order, with what
        the clinical indicators need (``schema.INDICATOR_SELECT``)."""

    @abc.abstractmethod
    async def file_by_sha256(self, sha256: str) -> FileRecord | None: ...

    @abc.abstractmethod
    async def begin_ingest(self) -> IngestSession: ...

    @abc.abstractmethod
    async def load_drugs(self, rows: Sequence[Row]) -> int:
        """Replace the drug reference rows with these (``schema.DRUG_COLUMNS`` order)."""

    @abc.abstractmethod
    async def count_dispensations(self) -> int: ...

    @abc.abstractmethod
    async def drug_count(self) -> int: ...
