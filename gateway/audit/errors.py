"""The audit trail's errors. Each also inherits the stdlib type a caller would naturally catch::

    Exception
    └── AuditError
        ├── AuditInputError(ValueError)              bad input to a report, a hold or a purge (the CLI's exit 2)
        ├── AuditIntegrityError                      the stored chain is not intact where an operation needs it
        └── AuditUnavailableError(ConnectionError)   the audit database cannot be reached, failed or is too slow

The pipeline turns ``AuditUnavailableError`` into ``PmpError(ERROR_CODE_AUDIT_UNAVAILABLE)``: no audit, no data.
Messages name the rule or the failure's kind, never a value (they may reach an operator's terminal or a log).
"""

from __future__ import annotations


class AuditError(Exception):
    """Base of the audit trail's errors."""


class AuditInputError(AuditError, ValueError):
    """The input breaks a rule; the message names the field and the rule."""


class AuditIntegrityError(AuditError):
    """The stored chain is broken where an operation needs it (a purge whose last record is missing)."""


class AuditUnavailableError(AuditError, ConnectionError):
    """The audit database cannot be reached, refused the write, or did not commit in time."""
