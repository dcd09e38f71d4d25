"""The disclosure audit trail: an append-only, hash-chained record of every request that reaches the pipeline, in
the gateway's database; the accounting of disclosures and usage reports over it; retention with checkpoints.

Public surface: the record (``AuditRecord``, ``Outcome``, ``outcome_of``, ``record_of``), the store
(``AuditStore``; ``make_audit_store`` picks SQLite or PostgreSQL), group commit (``AuditWriter``), the chain check
(``verify``), the reports (``accounting``, ``usage``), holds (``Hold``), and the per-process service
(``AuditService``, ``AUDIT``). The pipeline hook is ``gateway.pipeline.audit.audited``.
"""

from gateway.audit.errors import AuditError, AuditInputError, AuditIntegrityError, AuditUnavailableError
from gateway.audit.holds import Hold
from gateway.audit.record import (
    GENESIS,
    AuditRecord,
    Kind,
    Outcome,
    StoredRecord,
    admin_record,
    outcome_of,
    record_of,
)
from gateway.audit.reports import Accounting, Disclosure, Subject, UsageReport, accounting, usage
from gateway.audit.service import AUDIT, AuditConfig, AuditService, retention_cutoff
from gateway.audit.store import AuditStore, PurgeResult, make_audit_store
from gateway.audit.verify import Problem, VerifyResult, verify
from gateway.audit.writer import AuditWriter

__all__ = [
    "AUDIT",
    "GENESIS",
    "Accounting",
    "AuditConfig",
    "AuditError",
    "AuditInputError",
    "AuditIntegrityError",
    "AuditRecord",
    "AuditService",
    "AuditStore",
    "AuditUnavailableError",
    "AuditWriter",
    "Disclosure",
    "Hold",
    "Kind",
    "Outcome",
    "Problem",
    "PurgeResult",
    "StoredRecord",
    "Subject",
    "UsageReport",
    "VerifyResult",
    "accounting",
    "admin_record",
    "make_audit_store",
    "outcome_of",
    "record_of",
    "retention_cutoff",
    "usage",
    "verify",
]
