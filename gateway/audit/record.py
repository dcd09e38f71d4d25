"""One audit record: what a request asked, who asked it, what the gateway answered — and its place in the chain.

A record is written for every request that reaches the pipeline (``gateway.pipeline.audit.audited``), refusals and
errors included, and for the division's own acts on the trail (``kind="admin"``: reading an accounting, adding or
removing a hold) and purges (``kind="checkpoint"``).

**Outcome** (``outcome_of``), from the pipeline's error or, when it answered, the match status:

=================  ==========================================================================================
provided           a person was found and at least one dispensation left in the answer
no-data            no person above the match threshold, a person with no dispensation in the period, or
                   PATIENT_NOT_FOUND
ambiguous          several people match (MATCH_STATUS_AMBIGUOUS, PATIENT_AMBIGUOUS); nothing disclosed
disallowed         policy refused the requester: FORBIDDEN (role × purpose × reference), NOT_REGISTERED (unknown,
                   inactive or unlinked end user or client), INSUFFICIENT_SCOPE
denied             no valid credentials: UNAUTHENTICATED
suspended          SUSPENDED (EDS, client, user or partner state)
rate-limited       RATE_LIMITED
error              anything else: INVALID_REQUEST, BACKEND_UNAVAILABLE, TIMEOUT, AUDIT_UNAVAILABLE, INTERNAL, a
                   request abandoned by its client (``error_code="cancelled"``)…
=================  ==========================================================================================

``error_code`` keeps the precise ``PmpError`` code name next to the coarse outcome.

**PHI.** ``query`` (the patient demographics as asked, JSON) and ``q_last``/``q_first``/``q_dob`` (the folded keys
the accounting of disclosures searches by) are PHI: they live in the audit database only and are never logged.

**Chain.** Each stored record carries ``seq`` (1, 2, …), ``prev_hash`` (the previous record's ``hash``; 64 zeros
for the first) and ``hash`` = SHA-256 of ``prev_hash`` + the canonical serialization: the JSON array of ``seq`` and
every column of ``COLUMNS`` in that order, as stored (text and integers only, so both databases give back exactly
what was hashed).
"""

from __future__ import annotations

import asyncio
import enum
import hashlib
import operator
import re
import time as _time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson

from protos.errors import PmpError
from protos.pmp.v1 import pmp_pb2 as pb

if TYPE_CHECKING:
    from gateway.pipeline.context import RequestContext

GENESIS = "0" * 64


class Outcome(enum.StrEnum):
    PROVIDED = "provided"
    NO_DATA = "no-data"
    AMBIGUOUS = "ambiguous"
    DISALLOWED = "disallowed"
    DENIED = "denied"
    SUSPENDED = "suspended"
    RATE_LIMITED = "rate-limited"
    ERROR = "error"


class Kind(enum.StrEnum):
    REQUEST = "request"  # a protocol request that reached the pipeline
    ADMIN = "admin"  # the division's act on the trail (accounting read, hold added / removed)
    CHECKPOINT = "checkpoint"  # a purge: carries the hash of the last purged record


ERROR_OUTCOMES: dict[int, Outcome] = {
    pb.ERROR_CODE_FORBIDDEN: Outcome.DISALLOWED,
    pb.ERROR_CODE_NOT_REGISTERED: Outcome.DISALLOWED,
    pb.ERROR_CODE_INSUFFICIENT_SCOPE: Outcome.DISALLOWED,
    pb.ERROR_CODE_UNAUTHENTICATED: Outcome.DENIED,
    pb.ERROR_CODE_SUSPENDED: Outcome.SUSPENDED,
    pb.ERROR_CODE_RATE_LIMITED: Outcome.RATE_LIMITED,
    pb.ERROR_CODE_PATIENT_NOT_FOUND: Outcome.NO_DATA,
    pb.ERROR_CODE_PATIENT_AMBIGUOUS: Outcome.AMBIGUOUS,
}

CANCELLED = "cancelled"


@dataclass(slots=True, frozen=True)
class AuditRecord:
    """One record as the gateway writes it (the chain fields are added by the store: ``StoredRecord``).

    Text is ``""`` when absent; ``time`` is UTC ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (text, so it sorts and round-trips
    exactly). ``patients`` is the JSON array of the matched person's ids (``MatchedPatient.id`` then its record ids),
    ``query`` the JSON object of the patient query, ``detail`` a JSON object for admin and checkpoint records and,
    for an interstate answer, ``{"sources": [{"state", "status", "records"}, …]}``: what each state contributed."""

    time: str
    kind: str = Kind.REQUEST.value
    request_id: str = ""
    protocol: str = ""
    operation: str = ""
    eds_id: str = ""
    client_id: str = ""
    user_id: str = ""
    role: str = ""
    requester: str = ""  # the end user's name as the message gave it ("FAMILY, GIVEN")
    requester_ident: str = ""  # "npi:…", "dea:…" or "license:ST:…"
    on_behalf_of: str = ""  # the supervising practitioner of a delegate (name)
    on_behalf_of_ident: str = ""
    purpose: str = ""
    case_number: str = ""
    partner_state: str = ""  # the requesting state (interstate)
    query: str = "{}"  # PHI
    q_last: str = ""  # PHI: folded family name
    q_first: str = ""  # PHI: folded first given name
    q_dob: str = ""  # PHI: birth date as asked
    patients: str = "[]"
    range_start: str = ""
    range_end: str = ""
    outcome: str = ""
    error_code: str = ""
    records: int = 0  # dispensations disclosed
    detail: str = "{}"

    def values(self) -> tuple[str | int, ...]:
        """The columns' values in ``COLUMNS`` order."""
        found: tuple[str | int, ...] = _VALUES(self)
        return found

    @property
    def patient_ids(self) -> list[str]:
        ids: list[str] = orjson.loads(self.patients)
        return ids

    @property
    def details(self) -> dict[str, Any]:
        found: dict[str, Any] = orjson.loads(self.detail)
        return found


COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(AuditRecord))
_VALUES = operator.attrgetter(*COLUMNS)


@dataclass(slots=True, frozen=True)
class StoredRecord:
    """A record in the chain."""

    seq: int
    prev_hash: str
    hash: str
    record: AuditRecord

    @property
    def intact(self) -> bool:
        """Whether ``hash`` is the hash of this record's content and ``prev_hash`` (not whether it links)."""
        return chain_hash(self.seq, self.record.values(), self.prev_hash) == self.hash


def canonical(seq: int, values: Sequence[str | int]) -> bytes:
    """The bytes a record's hash covers (with the previous hash): ``[seq, *values]`` as compact JSON."""
    return orjson.dumps([seq, *values])


def chain_hash(seq: int, values: Sequence[str | int], prev_hash: str) -> str:
    digest = hashlib.sha256(prev_hash.encode("ascii"))
    digest.update(canonical(seq, values))
    return digest.hexdigest()


_second: list[Any] = [-1, ""]  # the last whole second formatted, and its text


def utc_now() -> str:
    """Now, as record times are written (the seconds' text is formatted once per second)."""
    now = _time.time()
    second = int(now)
    if second != _second[0]:
        _second[:] = [second, _time.strftime("%Y-%m-%dT%H:%M:%S", _time.gmtime(second))]
    return f"{_second[1]}.{int((now - second) * 1_000_000):06d}Z"


def format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# ---- demographics keys for the accounting of disclosures

_APOSTROPHES = re.compile("['’‘`´ʼ]")
_NOT_ALNUM = re.compile(r"[^A-Z0-9]+")


def fold_name(text: str) -> str:
    """Upper-case ASCII letters and digits only: accents, apostrophes, hyphens and spaces go (O'Brien-Smith →
    OBRIENSMITH). Deliberately simpler than pmpdb's matcher: no nicknames, no phonetics (see ``reports``)."""
    text = _APOSTROPHES.sub("", text)
    if not text.isascii():
        text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return _NOT_ALNUM.sub("", text.upper())


def first_name_key(text: str) -> str:
    """The folded first word of a given name (MARY ANN → MARY)."""
    words = _APOSTROPHES.sub("", text).replace("-", " ").split()
    return fold_name(words[0]) if words else ""


# ---- building a record from a request


def _clean(text: str) -> str:
    """Text as stored: NUL is the one character PostgreSQL text refuses."""
    return text.replace("\x00", "\ufffd") if "\x00" in text else text


def _enum_name(name: str, prefix: str) -> str:
    value = name.removeprefix(prefix).lower()
    return "" if value == "unspecified" else value


_ROLES = {v: _enum_name(n, "ROLE_") for n, v in pb.Role.items()}
_PURPOSES = {v: _enum_name(n, "PURPOSE_") for n, v in pb.Purpose.items()}
_GENDERS = {v: _enum_name(n, "GENDER_") for n, v in pb.Gender.items()}


def _person(name: pb.HumanName) -> str:
    family, given = name.family.strip(), name.given.strip()
    return f"{family}, {given}" if family and given else family or given


def _ident(p: pb.Practitioner) -> str:
    if npi := p.npi.strip():
        return f"npi:{npi}"
    if dea := p.dea.strip():
        return f"dea:{dea.upper()}"
    if licence := p.state_license.strip():
        return f"license:{p.license_state.strip().upper()}:{licence}"
    return ""


def query_json(q: pb.PatientQuery) -> str:
    """The patient query as asked (empty parts left out), as JSON text (orjson escapes NUL: no cleaning needed)."""
    name, address = q.name, q.address
    out: dict[str, Any] = {}
    for key, value in (
        ("family", name.family),
        ("given", name.given),
        ("middle", name.middle),
        ("suffix", name.suffix),
        ("birth_date", q.birth_date),
        ("gender", _GENDERS.get(q.gender, "")),
        ("line1", address.line1),
        ("line2", address.line2),
        ("city", address.city),
        ("state", address.state),
        ("postal_code", address.postal_code),
        ("phone", q.phone),
        ("patient_id", q.patient_id),
    ):
        if value:
            out[key] = value
    if q.identifiers:
        out["identifiers"] = [[i.type, i.value, i.issuer] for i in q.identifiers]
    return orjson.dumps(out).decode()


def outcome_of(ctx: RequestContext, error: BaseException | None) -> Outcome:
    """The outcome of a request that ended with ``error`` (None: the pipeline answered ``ctx.response``)."""
    if isinstance(error, PmpError):
        return ERROR_OUTCOMES.get(error.code, Outcome.ERROR)
    if error is not None or ctx.response is None:
        return Outcome.ERROR
    status = ctx.response.match_status
    if status == pb.MATCH_STATUS_FOUND:
        return Outcome.PROVIDED if ctx.response.dispensations else Outcome.NO_DATA
    if status == pb.MATCH_STATUS_AMBIGUOUS:
        return Outcome.AMBIGUOUS
    if status == pb.MATCH_STATUS_NOT_FOUND:
        return Outcome.NO_DATA
    return Outcome.ERROR


def error_code_of(error: BaseException | None) -> str:
    if error is None:
        return ""
    if isinstance(error, PmpError):
        return error.code_name
    if isinstance(error, asyncio.CancelledError):
        return CANCELLED
    return "internal"


def record_of(ctx: RequestContext, error: BaseException | None, *, time: str | None = None) -> AuditRecord:
    """The audit record of a request that reached the pipeline and ended with ``error`` (None: answered)."""
    search = ctx.search
    requester = search.requester
    practitioner, behalf = requester.practitioner, requester.on_behalf_of
    q, dates = search.patient, search.date_range
    outcome = outcome_of(ctx, error)
    response = ctx.response
    patients = "[]"
    disclosed = 0
    if error is None and response is not None and response.match_status == pb.MATCH_STATUS_FOUND:
        for person in response.patients[:1]:
            ids = [_clean(i) for i in dict.fromkeys([person.id, *person.record_ids]) if i]
            patients = orjson.dumps(ids).decode()
        if outcome is Outcome.PROVIDED:
            disclosed = len(response.dispensations)
    return AuditRecord(
        time=time or utc_now(),
        kind=Kind.REQUEST.value,
        request_id=_clean(ctx.request_id),
        protocol=ctx.protocol,
        operation=ctx.operation,
        eds_id=ctx.eds_id,
        client_id=ctx.client_id,
        user_id=requester.user_id,
        role=_ROLES.get(requester.role, ""),
        requester=_clean(_person(practitioner.name)),
        requester_ident=_clean(_ident(practitioner)),
        on_behalf_of=_clean(_person(behalf.name)) if behalf.name.family or behalf.name.given else "",
        on_behalf_of_ident=_clean(_ident(behalf)),
        purpose=_PURPOSES.get(requester.purpose, ""),
        case_number=_clean(requester.case_number.strip()),
        partner_state=_clean(requester.state.strip().upper()),
        query=query_json(q),
        q_last=fold_name(q.name.family),
        q_first=first_name_key(q.name.given),
        q_dob=_clean(q.birth_date.strip()),
        patients=patients,
        range_start=_clean(dates.start),
        range_end=_clean(dates.end),
        outcome=outcome.value,
        error_code=error_code_of(error),
        records=disclosed,
        detail=sources_detail(response) if error is None and response is not None and response.sources else "{}",
    )


def sources_detail(response: pb.SearchHistoryResponse) -> str:
    """Interstate answers: each state asked, how its part went and how many of ``records`` it gave."""
    sources = [{"state": s.state, "status": s.status, "records": s.dispensations} for s in response.sources]
    return orjson.dumps({"sources": sources}).decode()


def admin_record(
    operation: str, *, actor: str, client_id: str = "", detail: dict[str, Any] | None = None, time: str | None = None
) -> AuditRecord:
    """A record of the division's own act on the trail (``actor``: who, e.g. ``cli:alice`` or an admin client)."""
    body = {"actor": _clean(actor), **(detail or {})}
    return AuditRecord(
        time=time or utc_now(),
        kind=Kind.ADMIN.value,
        protocol="admin",
        operation=operation,
        client_id=_clean(client_id),
        outcome=Outcome.PROVIDED.value,
        detail=orjson.dumps(body, option=orjson.OPT_SORT_KEYS).decode(),
    )
