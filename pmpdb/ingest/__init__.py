"""ASAP 4.2 ingestion: stream a file through the reader into the store, all of it or nothing.

One pass, one transaction per file. The stager (``stage.py``) turns reader items into batched write operations;
the writer (``write.py``) applies them in file order — a revision or void after the batch before it. Large files
are parsed in a worker process while this one writes (``parallel.py``). If the reader reports an error, or a
revision / void names a dispensation that is not on file, writing stops, the rest of the file is still read (so
every error is reported at once) and the transaction is rolled back: a rejected file loads nothing.

A file already accepted (same SHA-256) is not read again: re-ingesting changes nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from adapters.asap.checks import iso_date
from adapters.asap.model import AsapError, DispensationRecord
from adapters.asap.reader import AsapReader
from pmpdb.ingest.parallel import IngestWorkerError, run_parallel
from pmpdb.ingest.report import IngestReport
from pmpdb.ingest.stage import BATCH_SIZE, Stager, dispensation_id, stable_id
from pmpdb.ingest.write import Writer
from pmpdb.store.base import FileRecord, IngestCounts, IngestSession, Store

__all__ = [
    "BATCH_SIZE",
    "IngestReport",
    "IngestWorkerError",
    "dispensation_id",
    "file_sha256",
    "ingest_path",
    "ingest_stream",
    "iso_date",
    "stable_id",
]

PARALLEL_MIN_BYTES = 8 << 20  # below this, starting a worker costs more than it saves
_HASH_CHUNK = 1 << 20


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _fingerprint(path: Path) -> tuple[str, int]:
    return file_sha256(path), path.stat().st_size


async def ingest_path(
    store: Store,
    path: Path,
    *,
    progress: Callable[[int], None] | None = None,
    parallel: bool | None = None,
) -> IngestReport:
    """Ingest one ASAP file from disk (the ``pmp-gateway ingest`` path); ``parallel`` defaults by file size."""
    sha256, size = await asyncio.to_thread(_fingerprint, path)  # hashing a large file must not stall the loop
    if parallel is None:
        parallel = size >= PARALLEL_MIN_BYTES
    if not parallel:
        with path.open("rb") as raw:
            stream: BinaryIO = _ProgressStream(raw, progress) if progress else raw  # type: ignore[assignment]
            return await ingest_stream(store, stream, name=path.name, sha256=sha256)
    report = IngestReport(file=path.name)
    if await _already_ingested(store, sha256, report):
        return report
    file_id = stable_id("file:" + sha256)
    session = await store.begin_ingest()
    try:
        writer = Writer(session, file_id, report.counts)
        records, reader_errors = await run_parallel(path, file_id, writer, progress)
        report.counts.records = records
        await _finish(session, report, reader_errors + writer.errors, file_id, sha256)
    except BaseException:
        await session.abort()
        raise
    return report


async def ingest_stream(store: Store, stream: BinaryIO, *, name: str, sha256: str) -> IngestReport:
    """Ingest an ASAP stream in this process; the caller computed its SHA-256 (the idempotency key)."""
    report = IngestReport(file=name)
    if await _already_ingested(store, sha256, report):
        return report
    file_id = stable_id("file:" + sha256)
    session = await store.begin_ingest()
    try:
        reader = AsapReader(stream)
        stager = Stager(file_id, reader.errors)
        writer = Writer(session, file_id, report.counts)
        for item in reader:
            # The common case (a new record) is staged synchronously; the store is awaited per batch only.
            ops = stager.record(item) if isinstance(item, DispensationRecord) else stager.zero_report(item)
            if ops:
                for op in ops:
                    await writer.apply(op)
        for op in stager.finish():
            await writer.apply(op)
        report.counts.records = stager.records
        await _finish(session, report, list(reader.errors) + writer.errors, file_id, sha256)
    except BaseException:
        await session.abort()
        raise
    return report


async def _already_ingested(store: Store, sha256: str, report: IngestReport) -> bool:
    seen = await store.file_by_sha256(sha256)
    if seen is None:
        return False
    report.already_ingested = True
    report.counts = IngestCounts(records=seen.counts.records, duplicates=seen.counts.records)
    return True


async def _finish(
    session: IngestSession, report: IngestReport, errors: list[AsapError], file_id: int, sha256: str
) -> None:
    """Commit with the file's record, or roll back everything when there is any error."""
    report.errors = errors
    if errors:
        await session.abort()
        return
    now = datetime.now(UTC).isoformat(timespec="seconds")
    await session.commit(FileRecord(file_id, sha256, report.file, now, report.counts))


class _ProgressStream:
    """A read-only stream wrapper that reports bytes read (for the terminal progress bar)."""

    def __init__(self, raw: BinaryIO, progress: Callable[[int], None]) -> None:
        self._raw = raw
        self._progress = progress

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        self._progress(len(data))
        return data
