"""Plain FHIR search, ``GET [base]/MedicationDispense?…`` → ``pb.SearchHistoryRequest``; the page → a searchset.

The PDMP IG defines no search API (standards.md §1.11 #6); this follows FHIR R4 search and US Core 6.1.0's
MedicationDispense parameters (§1.12), restricted to what a PMP can answer:

* ``subject:Patient.family``, ``.given``, ``.birthdate``, ``.gender`` — the patient's demographics (chained
  search); family and birthdate (a full date, ``eq`` or no prefix) are required unless ``patient`` is given.
* ``patient`` (or ``subject=Patient/<id>``) — a patient id from an earlier answer; the gateway resolves it.
* ``whenhandedover`` — the period: prefixes ``eq`` (or none), ``ge``, ``gt``, ``le``, ``lt``, repeated for a
  range (AND); any date precision; times are dropped (calendar days, as written).
* ``status`` — MedicationDispense status codes (comma = OR); a PMP only holds ``completed`` dispensations.
* ``_count`` — page size from 1; above ``max_count`` it is lowered to ``max_count``, as FHIR lets a server do.
* ``_format`` — JSON only. ``_include`` — accepted for what every page includes anyway.
* ``_cursor`` — the next page, as the ``next`` link gives it.

US Core documents no chains for MedicationDispense, so ``patient.family`` and the like are unknown parameters.
Clinical alerts: pmpdb computes them over the whole period with the first page, so the first page of a search
carries a DetectedIssue per alert as ``search.mode = include`` (after the Patient); later pages carry none. FHIR
lets a server add resources the client did not ask to include, and a client that ignores DetectedIssue loses
nothing: the matches are unchanged.

An unknown parameter is refused under ``Prefer: handling=strict`` and otherwise ignored and reported in the
searchset's OperationOutcome. Empty values are ignored. Errors name the parameter (``location``), never its value.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Final

import orjson

from adapters.fhir._ids import is_fhir_id
from adapters.fhir._json import MAX_TEXT, At
from adapters.fhir.codes import GENDERS_IN
from adapters.fhir.dates import PERIOD_TOO_LONG, date_bounds, full_date
from adapters.fhir.demographics import gender_code
from adapters.fhir.outcome import ambiguous_issue, issue, no_data_issue, operation_outcome
from adapters.fhir.resources import ResourceBuilder, instant, matched_patient
from adapters.period import report_period
from protos.errors import PmpError
from protos.pmp.v1 import pmp_pb2 as pb

Json = dict[str, Any]

CURSOR_PARAM: Final = "_cursor"
_CHAIN: Final = "subject:Patient."
DEMOGRAPHICS: Final = ("family", "given", "birthdate", "gender")
_SINGLE: Final = frozenset(
    {"patient", "subject", "_count", "_format", CURSOR_PARAM, *(_CHAIN + d for d in DEMOGRAPHICS)}
)
_DATE_PREFIXES: Final = frozenset({"eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap"})
DISPENSE_STATUSES: Final = frozenset(
    {
        "preparation",
        "in-progress",
        "cancelled",
        "on-hold",
        "completed",
        "entered-in-error",
        "stopped",
        "declined",
        "unknown",
    }
)
INCLUDES: Final = frozenset(
    {
        "MedicationDispense:patient",
        "MedicationDispense:subject",
        "MedicationDispense:performer",
        "MedicationDispense:prescription",
        "MedicationDispense:medication",
    }
)
JSON_FORMATS: Final = frozenset(
    {"json", "fhir+json", "application/json", "application/fhir+json", "application/json+fhir"}
)
_COUNT: Final = re.compile(r"[0-9]{1,9}")
_MAX_NAME_SHOWN: Final = 64
_MATCH: Final = {"mode": "match"}
_INCLUDE: Final = {"mode": "include"}
_OUTCOME: Final = {"mode": "outcome"}


@dataclass(frozen=True, slots=True)
class DispenseSearch:
    """A decoded MedicationDispense search."""

    request: pb.SearchHistoryRequest  # patient from the chained params, date range, page size
    patient_token: str  # the value of ``patient=`` ("" if not given); the gateway resolves it
    cursor: str  # the value of ``_cursor`` ("" if not given)
    status: str  # "" or the requested status; only "completed" can match
    ignored: tuple[str, ...]  # unknown parameters ignored under lenient handling


def _at(name: str) -> At:
    return At(name, f"The {name} parameter")


def parse_dispense_search(
    params: Sequence[tuple[str, str]],
    *,
    strict: bool,
    today: date,
    default_lookback_days: int = 365,
    max_lookback_days: int = 3 * 366,
    max_count: int = 100,
) -> DispenseSearch:
    """The search the query string asks for. Raises only ``PmpError``."""
    single: dict[str, str] = {}
    handed_over: list[str] = []
    statuses: list[str] = []
    ignored: list[str] = []
    for name, value in params:
        if not value:
            continue
        if name in _SINGLE:
            if name in single:
                raise _at(name).error("is repeated")
            single[name] = value
        elif name == "whenhandedover":
            handed_over.append(value)
        elif name == "status":
            statuses.append(value)
        elif name == "_include" and value in INCLUDES:
            continue
        else:
            shown = name if name != "_include" else f"_include={value}"
            shown = shown if len(shown) <= _MAX_NAME_SHOWN else shown[:_MAX_NAME_SHOWN] + "…"
            if strict:
                raise PmpError(
                    pb.ERROR_CODE_INVALID_REQUEST, f"The search parameter {shown} is not supported", location=(shown,)
                )
            if shown not in ignored:
                ignored.append(shown)
    fmt = single.get("_format", "json").split(";")[0].strip().lower()
    if fmt not in JSON_FORMATS:
        raise PmpError(pb.ERROR_CODE_NOT_ACCEPTABLE, "The _format parameter must name JSON", location=("_format",))
    request = pb.SearchHistoryRequest(
        date_range=_period(
            handed_over, today=today, default_lookback_days=default_lookback_days, max_lookback_days=max_lookback_days
        ),
        page_size=_count(single.get("_count"), max_count),
    )
    token = _patient_token(single)
    cursor = single.get(CURSOR_PARAM, "")
    _demographics(single, request.patient, today)
    has_demographics = any(_CHAIN + d in single for d in DEMOGRAPHICS)
    if token and has_demographics:
        raise _at("patient").error("and subject:Patient.* parameters exclude each other: give one or the other")
    if not (token or cursor or (request.patient.name.family and request.patient.birth_date)):
        raise PmpError(
            pb.ERROR_CODE_INVALID_REQUEST,
            "subject:Patient.family and subject:Patient.birthdate (or patient) is required",
            location=("subject:Patient.family", "subject:Patient.birthdate"),
        )
    return DispenseSearch(request, token, cursor, _status(statuses), tuple(ignored))


def _patient_token(single: dict[str, str]) -> str:
    patient, subject = single.get("patient", ""), single.get("subject", "")
    if patient and subject:
        raise _at("subject").error("and patient exclude each other: give one")
    if subject and not subject.startswith("Patient/"):
        raise _at("subject").error("must be Patient/<id>")
    token = (patient or subject).removeprefix("Patient/")
    if token and not is_fhir_id(token):
        raise _at("patient" if patient else "subject").error("is not a patient id")
    return token


def _demographics(single: dict[str, str], out: pb.PatientQuery, today: date) -> None:
    for field in ("family", "given"):
        name = _CHAIN + field
        value = single.get(name, "").strip()
        if len(value) > MAX_TEXT:
            raise _at(name).error(f"is longer than {MAX_TEXT} characters")
        setattr(out.name, field, value)
    name = _CHAIN + "birthdate"
    birth = single.get(name, "")
    if birth:
        text = birth[2:] if birth[:2] == "eq" else birth
        born = full_date(text, _at(name))
        if born > today:
            raise _at(name).error("is in the future")
        out.birth_date = born.isoformat()
    name = _CHAIN + "gender"
    gender = single.get(name, "")
    if gender:
        if gender not in GENDERS_IN:
            raise _at(name).error("is not an administrative-gender code")
        out.gender = gender_code(gender)


def _count(value: str | None, max_count: int) -> int:
    if value is None:
        return 0  # the gateway's default
    if _COUNT.fullmatch(value) is None or int(value) < 1:
        raise _at("_count").error("must be a whole number from 1")
    return min(int(value), max_count)


def _status(statuses: list[str]) -> str:
    """``completed`` when every status parameter allows it; else the first that does not (nothing can match)."""
    result = ""
    for value in statuses:
        codes = [code.rpartition("|")[2] for code in value.split(",")]
        if not all(code in DISPENSE_STATUSES for code in codes):
            raise _at("status").error("is not a MedicationDispense status")
        if "completed" not in codes:
            return ",".join(codes)
        result = "completed"
    return result


def _period(values: list[str], *, today: date, default_lookback_days: int, max_lookback_days: int) -> pb.DateRange:
    at = _at("whenhandedover")
    start: date | None = None
    end: date | None = None
    for value in values:
        if "," in value:
            raise PmpError(
                pb.ERROR_CODE_UNSUPPORTED,
                "The whenhandedover parameter does not take a list of values; repeat it for a range",
                location=("whenhandedover",),
            )
        prefix = value[:2]
        if prefix in _DATE_PREFIXES:
            value = value[2:]
        else:
            prefix = "eq"
        first, last = date_bounds(value, at)
        low, high = _prefix_bounds(prefix, first, last, at)
        if low is not None:
            start = low if start is None else max(start, low)
        if high is not None:
            end = high if end is None else min(end, high)
    return report_period(
        start,
        end,
        today=today,
        default_lookback_days=default_lookback_days,
        max_lookback_days=max_lookback_days,
        at=at,
        too_long=PERIOD_TOO_LONG,
    )


def _prefix_bounds(prefix: str, first: date, last: date, at: At) -> tuple[date | None, date | None]:
    """The calendar days ``prefix value`` admits, ``value`` covering ``first``…``last``."""
    try:
        if prefix == "eq":
            return first, last
        if prefix == "ge":
            return first, None
        if prefix == "gt":
            return last + timedelta(days=1), None
        if prefix == "le":
            return None, last
        if prefix == "lt":
            return None, first - timedelta(days=1)
    except OverflowError:
        raise at.error("is out of range") from None
    raise PmpError(
        pb.ERROR_CODE_UNSUPPORTED,
        f"The whenhandedover parameter does not support the {prefix} prefix",
        location=(at.path,),
    )


def encode_searchset(
    response: pb.SearchHistoryResponse,
    *,
    patient_id: str,
    self_url: str,
    next_url: str | None,
    source: str,
    now: datetime,
    ignored: Sequence[str] = (),
) -> bytes:
    """One page of a MedicationDispense search: matches, what they reference (include), and an outcome entry for
    ignored parameters, no data or an ambiguous match."""
    entries: list[Json] = []
    issues: list[Json] = []
    total = 0
    returned = len(response.dispensations)
    if response.match_status == pb.MATCH_STATUS_FOUND and returned:
        builder = ResourceBuilder(source, patient_id, matched_patient(response))
        builder.add_alerts(response.alerts)
        for dispensation in response.dispensations:
            builder.add(dispensation)
        entries = [{"fullUrl": url, "resource": resource, "search": _MATCH} for url, resource in builder.matches]
        url, resource = builder.patient_entry
        entries.append({"fullUrl": url, "resource": resource, "search": _INCLUDE})
        entries.extend({"fullUrl": url, "resource": resource, "search": _INCLUDE} for url, resource in builder.alerts)
        entries.extend({"fullUrl": url, "resource": resource, "search": _INCLUDE} for url, resource in builder.includes)
        total = max(response.total_dispensations, returned)
    elif response.match_status == pb.MATCH_STATUS_AMBIGUOUS:
        issues.append(ambiguous_issue())
    else:
        issues.append(no_data_issue())
    if ignored:
        issues.append(
            issue(
                "warning",
                "not-supported",
                None,
                f"These search parameters are not supported and were ignored: {', '.join(ignored)}",
                tuple(ignored),
            )
        )
    if issues:
        entries.append({"resource": operation_outcome(issues), "search": _OUTCOME})
    links = [{"relation": "self", "url": self_url}]
    if next_url:
        links.append({"relation": "next", "url": next_url})
    bundle: Json = {"resourceType": "Bundle", "type": "searchset", "timestamp": instant(now), "total": total}
    bundle["link"] = links
    if entries:
        bundle["entry"] = entries
    return orjson.dumps(bundle)
