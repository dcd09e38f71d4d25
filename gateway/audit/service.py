"""The audit trail of one process: its store and its group-commit writer, configured from the settings, opened and
drained with the app (``cleanup_ctx``), and reachable from handlers as ``app[AUDIT]``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Literal

from aiohttp import web

from gateway.audit.relay import RelayAuditWriter
from gateway.audit.store import AuditStore, make_audit_store
from gateway.audit.writer import DEFAULT_COMMIT_TIMEOUT, DEFAULT_MAX_BATCH, AuditWriter, RecordWriter
from gateway.settings import Settings

DEFAULT_RETENTION_YEARS = 6  # HIPAA: 45 CFR 164.316(b)(2)


def retention_cutoff(today: date, years: int) -> date:
    """The first day kept by a retention of ``years`` (29 February → 28 February)."""
    try:
        return today.replace(year=today.year - years)
    except ValueError:
        return today.replace(year=today.year - years, day=28)


@dataclass(slots=True, frozen=True)
class AuditConfig:
    kind: Literal["sqlite", "postgres"] = "sqlite"
    data_dir: Path = Path("var")
    postgres_dsn: str = ""
    postgres_schema: str = "gateway"
    retention_years: int = DEFAULT_RETENTION_YEARS
    max_batch: int = DEFAULT_MAX_BATCH
    commit_timeout: float = DEFAULT_COMMIT_TIMEOUT
    synchronous: Literal["FULL", "NORMAL"] = "FULL"
    relay_socket: Path | None = None  # records go to the host's one writer there (serve --workers N, SQLite)

    @classmethod
    def from_settings(cls, settings: Settings) -> AuditConfig:
        """The gateway database's location from the settings; the audit_* settings when they exist."""
        return cls(
            kind=settings.gateway_store,
            data_dir=settings.data_dir,
            postgres_dsn=settings.gateway_dsn,
            postgres_schema=settings.gateway_postgres_schema,
            retention_years=int(getattr(settings, "audit_retention_years", DEFAULT_RETENTION_YEARS)),
            max_batch=int(getattr(settings, "audit_batch_max", DEFAULT_MAX_BATCH)),
            commit_timeout=float(getattr(settings, "audit_commit_timeout_seconds", DEFAULT_COMMIT_TIMEOUT)),
            synchronous="NORMAL" if getattr(settings, "audit_sqlite_synchronous", "full") == "normal" else "FULL",
            relay_socket=Path(settings.audit_relay_socket) if settings.audit_relay_socket else None,
        )

    def make_store(self) -> AuditStore:
        return make_audit_store(
            self.kind,
            data_dir=self.data_dir,
            postgres_dsn=self.postgres_dsn,
            postgres_schema=self.postgres_schema,
            synchronous=self.synchronous,
        )


@dataclass(slots=True)
class AuditService:
    store: AuditStore  # this process's reads (reports); its writes too unless they go through the relay
    writer: RecordWriter
    config: AuditConfig

    @classmethod
    def build(cls, config: AuditConfig, store: AuditStore | None = None) -> AuditService:
        """Unopened: no I/O until ``lifecycle`` runs (after any fork)."""
        store = store or config.make_store()
        writer: RecordWriter
        if config.relay_socket is not None:
            writer = RelayAuditWriter(config.relay_socket, commit_timeout=config.commit_timeout)
        else:
            writer = AuditWriter(store, max_batch=config.max_batch, commit_timeout=config.commit_timeout)
        return cls(store, writer, config)

    async def lifecycle(self, app: web.Application) -> AsyncIterator[None]:
        """``app.cleanup_ctx``: open the store and start the writer; at shutdown commit what is pending, close."""
        await self.store.open()
        try:
            await self.writer.start()
            try:
                yield
            finally:
                await self.writer.stop()
        finally:
            await self.store.close()


AUDIT = web.AppKey("audit", AuditService)
