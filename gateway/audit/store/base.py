"""The audit store: reads and the chain arithmetic written once; each backend runs the two write transactions
(``append``, ``purge``) itself, because each takes the chain head under its own lock.

A backend supplies ``open``, ``close``, ``_fetch`` (one read), ``_write`` (statements in one transaction; holds),
``append`` and ``_purge``. Every failure of the database is ``AuditUnavailableError``.
"""

# SQL text is assembled only from the constant statements of ``schema`` and placeholder counts; values are bound.
# ruff: noqa: S608

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeAlias

import orjson

from gateway.audit.errors import AuditInputError, AuditIntegrityError
from gateway.audit.holds import Hold, check_hold, check_text, hold_of, new_hold_id
from gateway.audit.record import AuditRecord, Kind, StoredRecord, chain_hash, utc_now
from gateway.audit.store import schema as sql

Row: TypeAlias = Sequence[Any]
Statement: TypeAlias = tuple[str, Sequence[Any]]

_IN_CHUNK = 500


@dataclass(slots=True, frozen=True)
class Linked:
    """Records placed after the chain head: the rows to insert, the patient index rows, and the new head."""

    rows: list[tuple[Any, ...]]
    patient_rows: list[tuple[str, int]]
    seqs: list[int]
    head_seq: int
    head_hash: str


def link(head_seq: int, head_hash: str, records: Sequence[AuditRecord]) -> Linked:
    """Number and hash ``records`` after the head (``seq``, ``hash``): the pure part of an append."""
    rows: list[tuple[Any, ...]] = []
    patient_rows: list[tuple[str, int]] = []
    seqs: list[int] = []
    seq, prev = head_seq, head_hash
    for record in records:
        seq += 1
        values = record.values()
        digest = chain_hash(seq, values, prev)
        rows.append((seq, prev, digest, *values))
        patient_rows.extend((patient_id, seq) for patient_id in dict.fromkeys(record.patient_ids))
        seqs.append(seq)
        prev = digest
    return Linked(rows, patient_rows, seqs, seq, prev)


def stored(row: Row) -> StoredRecord:
    return StoredRecord(int(row[0]), row[1], row[2], AuditRecord(*row[3:]))


@dataclass(slots=True, frozen=True)
class PurgePlan:
    """What a purge removes: records ``seq < keep_from``; the last one removed has ``last_hash``."""

    keep_from: int
    last_hash: str
    count: int
    kept_for_hold: bool


@dataclass(slots=True, frozen=True)
class PurgeResult:
    purged: int
    purged_through_seq: int  # 0 when nothing was purged
    checkpoint_seq: int  # the checkpoint record written (0 when nothing was purged)
    kept_for_hold: bool  # the cut-off stopped early at a record under an active hold

    def as_json(self) -> dict[str, Any]:
        return {
            "purged": self.purged,
            "purged_through_seq": self.purged_through_seq,
            "checkpoint_seq": self.checkpoint_seq,
            "kept_for_hold": self.kept_for_hold,
        }


def checkpoint_record(plan: PurgePlan, *, before: str, actor: str, now: str) -> AuditRecord:
    detail = {
        "purged_through_seq": plan.keep_from - 1,
        "purged_through_hash": plan.last_hash,
        "purged": plan.count,
        "before": before,
        "actor": actor,
        "kept_for_hold": plan.kept_for_hold,
    }
    return AuditRecord(
        time=now,
        kind=Kind.CHECKPOINT.value,
        operation="purge",
        outcome="provided",
        detail=orjson.dumps(detail, option=orjson.OPT_SORT_KEYS).decode(),
    )


def first_kept(*, cut: int | None, held: int | None, head_seq: int) -> tuple[int, bool]:
    """The first seq a purge keeps: the first record at or after the cut-off time (none: everything goes), or the
    first record under an active hold when that comes earlier (then True)."""
    keep_from = cut if cut is not None else head_seq + 1
    if held is not None and held < keep_from:
        return held, True
    return keep_from, False


def purge_plan(
    *, first: int | None, keep_from: int, kept_for_hold: bool, last_hash: str | None, count: int
) -> PurgePlan | None:
    """The purge's plan from what its transaction read (None: nothing to purge)."""
    if first is None or keep_from <= first:
        return None
    if last_hash is None:
        raise AuditIntegrityError(f"record {keep_from - 1} is missing: run `pmp-gateway audit verify`")
    return PurgePlan(keep_from, last_hash, count, kept_for_hold)


def period_bounds(start: date | None, end: date | None) -> tuple[str, str]:
    """[start 00:00, end + 1 day 00:00) as record times; open ends are the widest."""
    if start is not None and end is not None and end < start:
        raise AuditInputError("the period ends before it starts")
    low = f"{start.isoformat()}T00:00:00.000000Z" if start else ""
    high = f"{date.fromordinal(end.toordinal() + 1).isoformat()}T00:00:00.000000Z" if end else "~"
    return low, high


USAGE_DIMENSIONS: dict[str, str] = {
    "user": "user_id",
    "eds": "eds_id",
    "state": "partner_state",
    "day": "substr(time, 1, 10)",
}


class AuditStore(abc.ABC):
    """The hash-chained audit trail and its holds, in one database."""

    # ---- what a backend supplies

    @abc.abstractmethod
    async def open(self) -> None:
        """Connect and create the tables if they are missing."""

    @abc.abstractmethod
    async def close(self) -> None: ...

    @abc.abstractmethod
    async def _fetch(self, statement: str, *args: Any) -> list[Row]:
        """Rows of one query (``?`` placeholders). AuditUnavailableError if the database fails."""

    @abc.abstractmethod
    async def _write(self, statements: Sequence[Statement]) -> None:
        """Run the statements in one transaction."""

    @abc.abstractmethod
    async def append(self, records: Sequence[AuditRecord], *, within: float | None = None) -> list[int]:
        """Add ``records`` at the end of the chain in one transaction, under the chain-head lock; their ``seq``.
        ``within``: give up (roll back, AuditUnavailableError) when the transaction cannot finish within that many
        seconds — waiting for another writer's lock included; None: the store's default."""

    @abc.abstractmethod
    async def _purge(self, before: str, today: str, make_checkpoint: Callable[[PurgePlan], AuditRecord]) -> PurgeResult:
        """One transaction under the chain-head lock: plan (``purge_plan``), delete, append the checkpoint."""

    # ---- the chain

    async def ping(self) -> None:
        await self._fetch("SELECT 1")

    async def head(self) -> tuple[int, str]:
        rows = await self._fetch(sql.SELECT_HEAD)
        if not rows:
            raise AuditIntegrityError("the chain head row is missing")
        return int(rows[0][0]), str(rows[0][1])

    async def records(self, after_seq: int = 0, limit: int = 1000) -> list[StoredRecord]:
        """Records with ``seq > after_seq`` in order (keyset paging for ``verify``)."""
        rows = await self._fetch(f"{sql.SELECT_RECORD} WHERE seq > ? ORDER BY seq LIMIT ?", after_seq, limit)
        return [stored(r) for r in rows]

    async def get(self, seq: int) -> StoredRecord | None:
        rows = await self._fetch(f"{sql.SELECT_RECORD} WHERE seq = ?", seq)
        return stored(rows[0]) if rows else None

    async def seq_with_hash(self, digest: str) -> int | None:
        """The record whose hash is ``digest`` (a full scan: ``verify`` asks only once, on failure)."""
        rows = await self._fetch("SELECT seq FROM audit_record WHERE hash = ? ORDER BY seq LIMIT 1", digest)
        return int(rows[0][0]) if rows else None

    async def latest_checkpoint(self) -> StoredRecord | None:
        rows = await self._fetch(f"{sql.SELECT_RECORD} WHERE kind = ? ORDER BY seq DESC LIMIT 1", Kind.CHECKPOINT.value)
        return stored(rows[0]) if rows else None

    async def count(self, kind: str | None = None) -> int:
        if kind is None:
            rows = await self._fetch("SELECT COUNT(*) FROM audit_record")
        else:
            rows = await self._fetch("SELECT COUNT(*) FROM audit_record WHERE kind = ?", kind)
        return int(rows[0][0])

    async def purge(self, before: date, *, actor: str, today: date | None = None) -> PurgeResult:
        """Delete the records made before ``before`` (a prefix of the chain: it stops at the first record that is
        newer, or under an active hold) and append a checkpoint record carrying the last purged record's seq and
        hash, so that what remains still verifies."""
        actor = check_text(actor, "actor")
        cut = f"{before.isoformat()}T00:00:00.000000Z"
        day = (today or date.today()).isoformat()

        def make_checkpoint(plan: PurgePlan) -> AuditRecord:
            return checkpoint_record(plan, before=before.isoformat(), actor=actor, now=utc_now())

        return await self._purge(cut, day, make_checkpoint)

    # ---- reports

    async def subject_records(
        self, *, last: str, first: str, dob: str, patient_ids: Iterable[str], low: str, high: str
    ) -> list[StoredRecord]:
        """Request records about one person in [low, high): those whose query had these folded demographics
        (``first`` may be empty), and those matched to any patient id given or found on those records."""
        ids = {p for p in patient_ids if p}
        by_demographics: list[StoredRecord] = []
        if last and dob:
            statement = f"{sql.SELECT_RECORD} WHERE kind = ? AND q_dob = ? AND q_last = ?"
            args: list[Any] = [Kind.REQUEST.value, dob, last]
            if first:
                statement += " AND q_first = ?"
                args.append(first)
            by_demographics = [stored(r) for r in await self._fetch(f"{statement} ORDER BY seq", *args)]
            for found in by_demographics:
                ids.update(found.record.patient_ids)
        seqs: set[int] = {r.seq for r in by_demographics if low <= r.record.time < high}
        chosen = {r.seq: r for r in by_demographics if r.seq in seqs}
        id_list = sorted(ids)
        for i in range(0, len(id_list), _IN_CHUNK):
            chunk = id_list[i : i + _IN_CHUNK]
            marks = ", ".join("?" * len(chunk))
            rows = await self._fetch(
                f"{sql.SELECT_RECORD} WHERE kind = ? AND time >= ? AND time < ? AND seq IN "
                f"(SELECT seq FROM audit_patient WHERE patient_id IN ({marks}))",
                Kind.REQUEST.value,
                low,
                high,
                *chunk,
            )
            for row in rows:
                record = stored(row)
                chosen.setdefault(record.seq, record)
        return [chosen[s] for s in sorted(chosen)]

    async def usage_counts(self, dimension: str, low: str, high: str) -> list[tuple[str, str, int]]:
        """(key, outcome, count) of request records in [low, high) grouped by ``dimension`` (``USAGE_DIMENSIONS``)."""
        column = USAGE_DIMENSIONS[dimension]
        rows = await self._fetch(
            f"SELECT {column}, outcome, COUNT(*) FROM audit_record WHERE kind = ? AND time >= ? AND time < ?"
            f" GROUP BY {column}, outcome ORDER BY 1, 2",
            Kind.REQUEST.value,
            low,
            high,
        )
        return [(str(r[0]), str(r[1]), int(r[2])) for r in rows]

    # ---- holds

    async def add_hold(
        self,
        *,
        patient_id: str = "",
        case_number: str = "",
        until: date,
        reason: str = "",
        created_by: str = "",
        today: date | None = None,
    ) -> Hold:
        patient_id, case_number = check_hold(patient_id, case_number, until, today or date.today())
        hold = Hold(
            id=new_hold_id(),
            patient_id=patient_id,
            case_number=case_number,
            until=until,
            reason=check_text(reason, "reason"),
            created_at=utc_now(),
            created_by=check_text(created_by, "created_by"),
        )
        await self._write(
            [
                (
                    sql.INSERT_HOLD,
                    (
                        hold.id,
                        hold.patient_id,
                        hold.case_number,
                        hold.until.isoformat(),
                        hold.reason,
                        hold.created_at,
                        hold.created_by,
                    ),
                )
            ]
        )
        return hold

    async def get_hold(self, hold_id: str) -> Hold | None:
        rows = await self._fetch(f"{sql.SELECT_HOLD} WHERE id = ?", hold_id)
        return hold_of(rows[0]) if rows else None

    async def remove_hold(self, hold_id: str) -> Hold:
        hold = await self.get_hold(hold_id)
        if hold is None:
            raise AuditInputError("hold: no hold with this id")
        await self._write([(sql.DELETE_HOLD, (hold_id,))])
        return hold

    async def list_holds(self, *, active_on: date | None = None) -> list[Hold]:
        if active_on is None:
            rows = await self._fetch(f"{sql.SELECT_HOLD} ORDER BY created_at, id")
        else:
            statement = f"{sql.SELECT_HOLD} WHERE until >= ? ORDER BY created_at, id"
            rows = await self._fetch(statement, active_on.isoformat())
        return [hold_of(r) for r in rows]
