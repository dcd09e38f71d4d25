"""The suspension package's errors. Each also inherits the stdlib type a caller would naturally catch::

    Exception
    └── SuspensionError
        ├── SuspensionInputError(ValueError)          bad input: unknown kind, empty reason, an end time past…
        │   ├── SuspensionNotFoundError(LookupError)  no suspension (or no EDS / client / user) with that id
        │   └── SuspensionConflictError               the suspension was already reinstated
        ├── SuspensionUnavailableError(ConnectionError)  the store (Redis, the gateway database) failed
        └── SuspensionStateUnavailable                this process cannot confirm its copy of the set
                                                       (fail closed: refuse the query with 503)

Messages are for operators and clients alike: they name the rule, never an identifier or a reason text.
"""

from __future__ import annotations


class SuspensionError(Exception):
    """Base of the suspension package's errors."""


class SuspensionInputError(SuspensionError, ValueError):
    """The input breaks a rule; the message names the field and the rule."""


class SuspensionNotFoundError(SuspensionInputError, LookupError):
    """No suspension, EDS, client or user with that id."""


class SuspensionConflictError(SuspensionInputError):
    """The change clashes with the stored record (reinstating a suspension twice)."""


class SuspensionUnavailableError(SuspensionError, ConnectionError):
    """The suspension store cannot be reached or failed: nothing was changed (or, for a Redis write after the
    durable record, the change waits for Redis — the message says so)."""


class SuspensionStateUnavailable(SuspensionError):
    """The local suspension set has not been confirmed within the staleness bound: refuse rather than guess."""
