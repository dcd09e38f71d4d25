"""One audit writer per host when ``serve --workers N`` shares an embedded (SQLite) audit file.

Why: a worker's event loop is busy with requests, and a commit handed to a thread there needs the GIL back after
every SQLite call — each time it waits for the busy loop to let go (measured: 0.9 ms per append on an idle loop,
18 ms at p50 and 160 ms on average beside a CPU-bound one). Two workers also take turns at the file's write lock,
and SQLite's busy handler sleeps in whole milliseconds between tries. So the serve parent, whose loop has nothing
else to do, owns the one ``AuditWriter``; the workers hand it their records over a unix socket (0600, in the data
directory) and wait for its commit. Records from every worker share its group-commit batches and its chain.

Wire: frames of a 4-byte big-endian length and an orjson body. A worker sends ``[id, [record fields…]]``; the relay
answers ``[id, seq]`` once the record's batch committed, or ``[id, null, reason]`` when it did not. No audit, no
data: a worker that cannot reach the relay refuses (``AuditUnavailableError``) until it reconnects by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import socket
import struct
from pathlib import Path
from typing import Any

import orjson

from gateway.audit.errors import AuditUnavailableError
from gateway.audit.record import AuditRecord
from gateway.audit.writer import DEFAULT_COMMIT_TIMEOUT, AuditWriter, consume

log = logging.getLogger("pmp.audit")

_LENGTH = struct.Struct("!I")
MAX_FRAME = 1 << 20  # a record is a few hundred bytes; anything near this is not one
RECONNECT_SECONDS = 0.2
_FIELDS = tuple(f.name for f in dataclasses.fields(AuditRecord))


def relay_socket(path: Path) -> socket.socket:
    """Bind and listen before the workers fork: a worker that connects before the relay's loop runs waits in the
    backlog instead of failing."""
    path.unlink(missing_ok=True)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)  # the socket carries PHI: owner only, from the moment it exists
    try:
        sock.bind(str(path))
    finally:
        os.umask(old)
    sock.listen(128)
    sock.setblocking(False)
    return sock


async def _read_frame(reader: asyncio.StreamReader) -> Any:
    (length,) = _LENGTH.unpack(await reader.readexactly(_LENGTH.size))
    if length > MAX_FRAME:
        raise ValueError("audit relay frame too large")
    return orjson.loads(await reader.readexactly(length))


def _frame(body: Any) -> bytes:
    data = orjson.dumps(body)
    return _LENGTH.pack(len(data)) + data


class AuditRelay:
    """The parent's side: serves the workers' records into ``writer`` (started and stopped by the caller)."""

    def __init__(self, writer: AuditWriter, sock: socket.socket) -> None:
        self.writer = writer
        self._sock = sock
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._streams: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_unix_server(self._serve, sock=self._sock)

    async def stop(self) -> None:
        """Stop accepting, answer the records already received, then hang up on the workers."""
        if self._server is not None:
            self._server.close()
            self._server = None
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        for stream in list(self._streams):
            stream.close()

    async def _serve(self, reader: asyncio.StreamReader, stream: asyncio.StreamWriter) -> None:
        self._streams.add(stream)
        try:
            while True:
                request_id, values = await _read_frame(reader)
                record = AuditRecord(**dict(zip(_FIELDS, values, strict=True)))
                task = asyncio.create_task(self._answer(stream, request_id, record))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the worker went away; its records already handed over still commit
        except (ValueError, TypeError) as exc:  # not our protocol: drop the connection, keep serving the others
            log.warning("audit relay: bad frame", extra={"error": type(exc).__name__})
        finally:
            self._streams.discard(stream)
            stream.close()

    async def _answer(self, stream: asyncio.StreamWriter, request_id: int, record: AuditRecord) -> None:
        try:
            reply: list[Any] = [request_id, await self.writer.record(record)]
        except AuditUnavailableError as exc:
            reply = [request_id, None, str(exc)]
        if not stream.is_closing():
            stream.write(_frame(reply))


class RelayAuditWriter:
    """A worker's side, with ``AuditWriter``'s interface: ``record`` returns once the relay committed the record."""

    def __init__(self, path: Path, *, commit_timeout: float = DEFAULT_COMMIT_TIMEOUT) -> None:
        self.path = path
        self.commit_timeout = commit_timeout
        self._stream: asyncio.StreamWriter | None = None
        self._waiting: dict[int, asyncio.Future[int]] = {}
        self._next_id = 0
        self._task: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()

    @property
    def running(self) -> bool:
        return self._stream is not None and not self._stream.is_closing()

    async def start(self) -> None:
        if self._task is not None:
            raise RuntimeError("the audit relay writer is already started")
        self._task = asyncio.create_task(self._run(), name="audit-relay-writer")
        with contextlib.suppress(TimeoutError):  # not reachable yet: requests are refused until it is
            async with asyncio.timeout(5):
                await self._connected.wait()

    async def stop(self, drain_seconds: float = 10.0) -> None:
        """Wait (at most ``drain_seconds``) for the records already sent, then disconnect."""
        if self._waiting:
            await asyncio.wait(list(self._waiting.values()), timeout=drain_seconds)
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    def submit(self, record: AuditRecord) -> asyncio.Future[int]:
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        future.add_done_callback(consume)
        stream = self._stream
        if stream is None or stream.is_closing():
            future.set_exception(AuditUnavailableError("the audit relay is not reachable"))
            return future
        self._next_id += 1
        self._waiting[self._next_id] = future  # removed by the reply, or failed when the connection drops
        stream.write(_frame([self._next_id, dataclasses.astuple(record)]))
        return future

    async def record(self, record: AuditRecord) -> int:
        """``submit`` and wait; the relay's own writer gives up at ``commit_timeout``, this side a little later."""
        future = self.submit(record)
        try:
            async with asyncio.timeout(self.commit_timeout + 0.5):
                return await asyncio.shield(future)
        except TimeoutError:
            raise AuditUnavailableError("the audit store did not commit in time") from None

    async def _run(self) -> None:
        while True:
            try:
                reader, stream = await asyncio.open_unix_connection(str(self.path))
            except OSError:
                await asyncio.sleep(RECONNECT_SECONDS)
                continue
            self._stream = stream
            self._connected.set()
            try:
                await self._read_replies(reader)
            except (asyncio.IncompleteReadError, ConnectionError, ValueError, TypeError):
                log.warning("audit relay connection lost; refusing until it is back")
            finally:
                self._stream = None
                self._connected.clear()
                stream.close()
                self._fail_waiting("the audit relay connection was lost")
            await asyncio.sleep(RECONNECT_SECONDS)

    async def _read_replies(self, reader: asyncio.StreamReader) -> None:
        while True:
            reply = await _read_frame(reader)
            future = self._waiting.pop(reply[0], None)
            if future is None or future.done():
                continue
            if reply[1] is None:
                future.set_exception(AuditUnavailableError(str(reply[2])))
            else:
                future.set_result(int(reply[1]))

    def _fail_waiting(self, reason: str) -> None:
        waiting, self._waiting = self._waiting, {}
        for future in waiting.values():
            if not future.done():
                future.set_exception(AuditUnavailableError(reason))
