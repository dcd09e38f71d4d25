"""ASAP 4.2 writer: an :class:`AsapFile` out as the text a pharmacy would submit.

It exists for demo data, the conformance kit and tests (files the reader must take back unchanged),
so it writes the plain form: ``*`` separator, the chosen terminator, every element of every segment
(or, with ``compact``, without trailing empty ones), one segment per line if asked. Segments are
streamed to ``out`` with the TP and TT counts kept on the way, so a million-record file costs no
more memory than one record. Values that would break the syntax (a separator, the terminator or a
line break inside a field) raise :class:`AsapWriteError`: the writer's input comes from code.
"""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Callable, Iterator
from operator import attrgetter
from typing import Any, TextIO

from adapters.asap.checks import parse_period
from adapters.asap.model import (
    AsapFile,
    DispensationRecord,
    Patient,
    Pharmacy,
    PharmacyLoop,
)

__all__ = ["AsapWriteError", "format_asap", "write_asap"]

SEPARATOR = "*"

Segment = list[str]


class AsapWriteError(ValueError):
    """The file cannot be written as ASAP: a value would break the syntax, or the loops disagree."""


def _getter(cls: Any) -> Callable[[Any], tuple[str, ...]]:
    """All fields of a model object, in wire order, as one tuple (attrgetter runs in C)."""
    names = [f.name for f in dataclasses.fields(cls)]
    return attrgetter(*names)


_fields: dict[type, Callable[[Any], tuple[str, ...]]] = {}


def _elements(value: object) -> tuple[str, ...]:
    getter = _fields.get(type(value))
    if getter is None:
        getter = _fields[type(value)] = _getter(type(value))
    return getter(value)


def format_asap(file: AsapFile, *, terminator: str = "~", line_breaks: bool = True, compact: bool = False) -> str:
    """The file as one string; see :func:`write_asap`."""
    out = io.StringIO()
    write_asap(file, out, terminator=terminator, line_breaks=line_breaks, compact=compact)
    return out.getvalue()


def write_asap(
    file: AsapFile,
    out: TextIO,
    *,
    terminator: str = "~",
    line_breaks: bool = True,
    compact: bool = False,
) -> None:
    """Write ``file`` to ``out``.

    TH09 states ``terminator`` (whatever ``file.header.segment_terminator`` says); ``line_breaks``
    puts a newline after each terminator; ``compact`` leaves out trailing empty elements.
    """
    _check_terminator(terminator)
    end = terminator + "\n" if line_breaks else terminator
    header = _elements(file.header)[:8]
    out.write(_join(["TH", *header], terminator, False) + SEPARATOR + terminator + end)
    count = 1
    for segment in _body(file):
        count += 1
        out.write(_join(segment, terminator, compact) + end)
    count += 1
    out.write(_join(["TT", file.header.control_number, str(count)], terminator, compact) + end)


def _body(file: AsapFile) -> Iterator[Segment]:
    """IS, then each pharmacy loop closed by its TP with the loop's segment count."""
    yield ["IS", *_elements(file.source)]
    zero_date = _zero_report_date(file)
    for loop in file.pharmacies:
        count = 0
        for segment in _loop(loop, zero_date):
            count += 1
            yield segment
        yield ["TP", str(count + 1)]


def _loop(loop: PharmacyLoop, zero_date: str) -> Iterator[Segment]:
    """PHA and its records (a PAT whenever the patient changes), or the zero-report shape."""
    yield ["PHA", *_elements(loop.pharmacy)]
    if loop.zero_report:
        if loop.records:
            raise AsapWriteError("a zero-report pharmacy loop cannot also have records")
        yield from _zero_report(zero_date)
        return
    patient: Patient | None = None
    for record in loop.records:
        _check_record(record, loop.pharmacy)
        if record.patient is not patient and record.patient != patient:
            patient = record.patient
            yield ["PAT", *_elements(patient)]
        yield from _record(record)


def _record(record: DispensationRecord) -> Iterator[Segment]:
    yield ["DSP", *_elements(record.dispensing)]
    if record.prescriber is not None:
        yield ["PRE", *_elements(record.prescriber)]
    for ingredient in record.compounds:
        yield ["CDI", *_elements(ingredient)]
    if record.additional is not None:
        yield ["AIR", *_elements(record.additional)]


def _zero_report(date_filled: str) -> Iterator[Segment]:
    """standards.md §4.4: placeholder patient REPORT ZERO, a DSP with only a date, empty PRE/CDI/AIR."""
    patient = [""] * 23
    patient[6:8] = ["REPORT", "ZERO"]
    patient[19] = "01"
    dispensing = [""] * 25
    dispensing[0] = "00"
    dispensing[4] = date_filled
    yield ["PAT", *patient]
    yield ["DSP", *dispensing]
    yield ["PRE", *[""] * 9]
    yield ["CDI", *[""] * 5]
    yield ["AIR", *[""] * 11]


def _zero_report_date(file: AsapFile) -> str:
    """DSP05 of a zero report: the start of the IS03 period, else the file's creation date."""
    period = parse_period(file.source.message)
    return period[0] if period else file.header.creation_date


def _check_record(record: DispensationRecord, pharmacy: Pharmacy) -> None:
    if record.pharmacy is not pharmacy and record.pharmacy != pharmacy:
        raise AsapWriteError("a record's pharmacy differs from its loop's pharmacy")
    patient = record.patient
    if patient.last_name.strip().upper() == "REPORT" and patient.first_name.strip().upper() == "ZERO":
        raise AsapWriteError("patient REPORT ZERO would read back as a zero report")


def _join(segment: Segment, terminator: str, compact: bool) -> str:
    """One segment's text, refusing values that contain a delimiter or a line break."""
    if compact:
        while len(segment) > 1 and not segment[-1]:
            segment.pop()
    text = SEPARATOR.join(segment)
    if text.count(SEPARATOR) != len(segment) - 1 or terminator in text or "\n" in text or "\r" in text:
        raise AsapWriteError(f"a {segment[0]} value contains the separator, the terminator or a line break")
    return text


def _check_terminator(terminator: str) -> None:
    if not (len(terminator) == 1 and "!" <= terminator <= "~" and not terminator.isalnum() and terminator != SEPARATOR):
        raise AsapWriteError("the terminator must be one visible ASCII character other than * and alphanumerics")
