"""Ingest on two cores: a worker process reads and stages the file while this process writes the store.

Parsing (the reader and the stager) and writing (SQLite's b-tree inserts) each cost about as much per record;
in one process they add up, in two they overlap. The worker sends pickled operations over a pipe, one batch at
a time (the pipe's back-pressure keeps memory flat); this process applies them in order inside the one
transaction. The worker is started with ``spawn``: it inherits no sockets, threads or gRPC state.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import pickle
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from adapters.asap.model import AsapError, DispensationRecord
from adapters.asap.reader import AsapReader
from pmpdb.ingest.stage import Stager
from pmpdb.ingest.write import Writer

PROGRESS_EVERY = 1 << 20


class IngestWorkerError(RuntimeError):
    """The parsing worker died or failed; the file's transaction is rolled back."""


class _CountingStream:
    """Counts bytes read, for the progress bar."""

    def __init__(self, raw: Any) -> None:
        self._raw = raw
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        data: bytes = self._raw.read(size)
        self.count += len(data)
        return data


def _worker(path: str, file_id: int, conn: Connection) -> None:
    """Child process: read + stage the file, send operations, then ``("end", records, reader_errors)``."""
    send = conn.send_bytes
    try:
        with open(path, "rb") as raw:
            stream = _CountingStream(raw)
            reader = AsapReader(stream)  # type: ignore[arg-type]
            stager = Stager(file_id, reader.errors)
            reported = 0
            for item in reader:
                ops = stager.record(item) if isinstance(item, DispensationRecord) else stager.zero_report(item)
                if ops:
                    for op in ops:
                        send(pickle.dumps(op, 5))
                if stream.count - reported >= PROGRESS_EVERY:
                    send(pickle.dumps(("progress", stream.count - reported), 5))
                    reported = stream.count
            for op in stager.finish():
                send(pickle.dumps(op, 5))
            send(pickle.dumps(("progress", stream.count - reported), 5))
            send(pickle.dumps(("end", stager.records, list(reader.errors)), 5))
    except BaseException as exc:  # the parent must learn of any failure, then roll back
        send(pickle.dumps(("crash", type(exc).__name__), 5))
    finally:
        conn.close()


async def run_parallel(
    path: Path, file_id: int, writer: Writer, progress: Callable[[int], None] | None
) -> tuple[int, list[AsapError]]:
    """Apply the worker's operations with ``writer``; returns (records read, reader errors)."""
    ctx = multiprocessing.get_context("spawn")
    receive, send = ctx.Pipe(duplex=False)
    worker = ctx.Process(target=_worker, args=(str(path), file_id, send), daemon=True, name="pmp-ingest-parse")
    worker.start()
    send.close()
    loop = asyncio.get_running_loop()
    pending: asyncio.Future[bytes] | None = None
    finished = False
    try:
        while True:
            pending = loop.run_in_executor(None, receive.recv_bytes)
            try:
                data = await pending
            except EOFError:
                raise IngestWorkerError("the parsing worker exited without finishing") from None
            op = pickle.loads(data)  # noqa: S301 - our own child process, over a private pipe
            kind = op[0]
            if kind == "end":
                finished = True
                return op[1], op[2]
            if kind == "progress":
                if progress is not None:
                    progress(op[1])
            elif kind == "crash":
                raise IngestWorkerError(f"the parsing worker failed: {op[1]}")
            else:
                await writer.apply(op)
    finally:
        # On an error or a cancellation the worker may still be parsing and a thread may still be blocked in
        # recv_bytes(): stop the worker first (its end of the pipe closes, so the read ends), then close.
        if not finished and worker.is_alive():
            worker.kill()
        if pending is not None and not pending.done():
            with contextlib.suppress(EOFError, OSError):
                await asyncio.shield(pending)
        receive.close()
        await asyncio.to_thread(worker.join, 5)
        if worker.is_alive():
            worker.kill()
            await asyncio.to_thread(worker.join)
