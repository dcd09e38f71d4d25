"""The dispensation store: one interface, two backends (SQLite embedded, PostgreSQL scaled out)."""

from pmpdb.store.base import (
    DispensationPage,
    DispensationRow,
    IngestCounts,
    PatientRecord,
    Store,
    StoreUnavailableError,
)

__all__ = [
    "DispensationPage",
    "DispensationRow",
    "IngestCounts",
    "PatientRecord",
    "Store",
    "StoreUnavailableError",
]
