"""Check the audit chain and name the first bad record.

The chain starts at record 1 with the genesis hash (64 zeros) or, after a purge, where the latest checkpoint
record says: its ``purged_through_seq`` + 1, linking to its ``purged_through_hash``. From there, record by record,
in ``seq`` order:

- ``missing`` — a gap in ``seq`` (a record deleted), or records missing at the end (the head row is ahead);
- ``reordered`` — the record links to another record still in the chain, not to the one before it;
- ``changed`` — the record's hash is not the hash of its content (a field, or its ``seq``, was altered); or the
  record links to nothing that exists while its own hash is intact: the record before it was altered and its hash
  recomputed;
- ``checkpoint-mismatch`` — what remains does not start where the latest purge checkpoint says;
- ``head-mismatch`` — the last record is not the head the writers recorded.

Limit: deleting the newest records *and* rewriting the head row in step is not detectable from inside the
database; ``audit verify`` prints the head (seq and hash) so that operators can anchor it elsewhere.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from gateway.audit.record import GENESIS
from gateway.audit.store.base import AuditStore

PAGE = 2000


class Problem(enum.StrEnum):
    CHANGED = "changed"
    MISSING = "missing"
    REORDERED = "reordered"
    CHECKPOINT_MISMATCH = "checkpoint-mismatch"
    HEAD_MISMATCH = "head-mismatch"


@dataclass(slots=True, frozen=True)
class VerifyResult:
    ok: bool
    checked: int  # records checked
    first_seq: int  # 0 when the chain is empty
    last_seq: int
    head_seq: int
    head_hash: str
    bad_seq: int | None = None  # the first bad record
    problem: str = ""  # a ``Problem`` value
    detail: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checked": self.checked,
            "first_seq": self.first_seq,
            "last_seq": self.last_seq,
            "head_seq": self.head_seq,
            "head_hash": self.head_hash,
            "bad_seq": self.bad_seq,
            "problem": self.problem or None,
            "detail": self.detail or None,
        }

    def summary(self) -> str:
        if self.ok:
            span = f"records {self.first_seq}–{self.last_seq}" if self.checked else "no records"
            return f"audit chain OK: {self.checked} checked ({span}); head {self.head_seq} {self.head_hash}"
        return f"audit chain BROKEN at record {self.bad_seq} ({self.problem}): {self.detail}"


async def verify(store: AuditStore, *, page: int = PAGE) -> VerifyResult:
    """Check the whole chain (streamed in pages of ``page`` records)."""
    head_seq, head_hash = await store.head()
    checkpoint = await store.latest_checkpoint()
    expected, prev = 1, GENESIS
    if checkpoint is not None:
        details = checkpoint.record.details
        expected = int(details.get("purged_through_seq", 0)) + 1
        prev = str(details.get("purged_through_hash", GENESIS))
    checked = first = last = 0

    def broken(seq: int, problem: Problem, detail: str) -> VerifyResult:
        return VerifyResult(False, checked, first, last, head_seq, head_hash, seq, problem.value, detail)

    after = 0
    while batch := await store.records(after, page):
        for r in batch:
            if checked == 0 and r.seq < expected:
                assert checkpoint is not None
                return broken(
                    r.seq,
                    Problem.CHECKPOINT_MISMATCH,
                    f"record {r.seq} is older than what the purge checkpoint (record {checkpoint.seq}) removed",
                )
            if r.seq != expected:
                return broken(expected, Problem.MISSING, f"record {expected} is missing (the next is {r.seq})")
            if r.prev_hash != prev:
                where = await store.seq_with_hash(r.prev_hash)
                if where is not None and where != r.seq - 1:
                    return broken(r.seq, Problem.REORDERED, f"record {r.seq} links to record {where}")
                if checked == 0 and checkpoint is not None:
                    return broken(
                        r.seq,
                        Problem.CHECKPOINT_MISMATCH,
                        f"record {r.seq} does not link to the purge checkpoint (record {checkpoint.seq})",
                    )
                if not r.intact:
                    return broken(r.seq, Problem.CHANGED, f"record {r.seq} was altered or renumbered")
                return broken(
                    r.seq - 1,
                    Problem.CHANGED,
                    f"record {r.seq - 1} was altered and its hash rewritten: record {r.seq} no longer links to it",
                )
            if not r.intact:
                return broken(r.seq, Problem.CHANGED, f"record {r.seq} does not match its hash")
            if checked == 0:
                first = r.seq
            checked += 1
            last, prev, expected = r.seq, r.hash, r.seq + 1
        after = batch[-1].seq
    if head_seq > last:
        missing = last + 1 if checked else expected
        return broken(missing, Problem.MISSING, f"records {missing}–{head_seq} are missing at the end of the chain")
    if checked and (head_seq != last or head_hash != prev):
        return broken(last, Problem.HEAD_MISMATCH, f"the chain head names record {head_seq}, the last is {last}")
    return VerifyResult(True, checked, first, last, head_seq, head_hash)
