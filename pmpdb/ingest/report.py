"""What one ingest run reports: counts, errors (never field values), and the JSON the CLI prints."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from adapters.asap.model import AsapError
from pmpdb.store.base import IngestCounts


@dataclass(slots=True)
class IngestReport:
    """The outcome of one file. A rejected file loaded nothing, so its JSON reports zero of everything."""

    file: str
    counts: IngestCounts = field(default_factory=IngestCounts)
    errors: list[AsapError] = field(default_factory=list)
    already_ingested: bool = False

    @property
    def rejected(self) -> bool:
        return bool(self.errors)

    @property
    def status(self) -> str:
        if self.rejected:
            return "rejected"
        return "already-ingested" if self.already_ingested else "accepted"

    def as_json(self) -> dict[str, Any]:
        c = self.counts
        loaded = not self.rejected
        return {
            "file": self.file,
            "status": self.status,
            "records": c.records,
            "accepted": c.accepted if loaded else 0,
            "revised": c.revised if loaded else 0,
            "voided": c.voided if loaded else 0,
            "zero_reports": c.zero_reports if loaded else 0,
            "duplicates": c.duplicates if loaded else 0,
            "errors": [
                {"segment_number": e.segment_number, "segment": e.segment, "field": e.field, "reason": e.reason}
                for e in self.errors
            ],
        }
