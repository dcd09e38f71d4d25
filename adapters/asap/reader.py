"""Streaming ASAP 4.2 reader: a pharmacy's submission file in, validated records out.

Why it looks the way it does:

* **Streaming.** Files reach hundreds of megabytes; the reader holds one chunk (``chunk_size``) and
  the current PHA/PAT, never the file. Memory stays flat whatever the file size.
* **Reports, never raises.** Every problem in the input becomes an :class:`AsapError` in
  ``reader.errors`` (segment number, segment, field, reason) and reading goes on, so one pass lists
  what the pharmacy must fix. Fatal problems (no TH, an over-long segment, too many errors) stop
  the reading with a final error. Reasons never quote field values: a file carries PHI.
* **Records keep coming after errors.** Only records whose own PHA, PAT and DSP passed their field
  checks are yielded (so consumers may convert their values without re-checking), but structural
  errors such as a wrong TP/TT count or a missing TT are only known later. A consumer that must not
  ingest part of a bad file (ingestion) keeps its writes in one transaction and rolls back when
  ``errors`` is non-empty after the iteration.
* **Fast.** About 1M records in a few seconds: ``str.split`` per segment, no regex, records built by
  :func:`adapters.asap._fast.fast_constructor`, the PAT object shared by the DSPs under it,
  identical PRE segments cached. The per-segment loop is one function on purpose (a method call per
  segment costs more than the rest of its work); the checks it calls are small functions below.

File grammar (standards.md §4.2): ``TH IS { PHA { PAT { DSP PRE? CDI* AIR? } } TP } TT``. The
separator is the character after ``TH``; the segment terminator is TH09, which the TH segment
repeats as its own terminator (``…*P**~~``). CR/LF and other whitespace between segments is
ignored. A patient named REPORT ZERO marks a zero report: a :class:`ZeroReport`, never a
:class:`DispensationRecord`. All-empty PRE, CDI and AIR segments (zero-report files and some
producers always write them) carry nothing and read as absent.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any, BinaryIO, Final

from adapters.asap._fast import fast_constructor
from adapters.asap.checks import DATE_CACHE, is_count, is_date, is_positive_decimal, parse_period
from adapters.asap.model import (
    SUPPORTED_VERSIONS,
    AdditionalInfo,
    AsapError,
    CompoundIngredient,
    DispensationRecord,
    Dispensing,
    InformationSource,
    Patient,
    Pharmacy,
    Prescriber,
    TransactionHeader,
    ZeroReport,
)

__all__ = ["AsapReader", "read_asap"]

Item = DispensationRecord | ZeroReport
Problems = list[tuple[str, str]]

DEFAULT_MAX_SEGMENT_BYTES: Final = 4096
DEFAULT_MAX_ERRORS: Final = 200
DEFAULT_CHUNK_SIZE: Final = 1 << 20

_BOM: Final = b"\xef\xbb\xbf"
_PRESCRIBER_CACHE_MAX: Final = 8192
_PATIENT_CACHE_MAX: Final = 65536


def _width(cls: Any) -> int:
    return len(dataclasses.fields(cls))


# Number of data elements of each segment (the model's field count; TP and TT are not modelled).
_WIDTH: Final[dict[str, int]] = {
    "TH": _width(TransactionHeader),
    "IS": _width(InformationSource),
    "PHA": _width(Pharmacy),
    "PAT": _width(Patient),
    "DSP": _width(Dispensing),
    "PRE": _width(Prescriber),
    "CDI": _width(CompoundIngredient),
    "AIR": _width(AdditionalInfo),
    "TP": 1,
    "TT": 2,
}
# Length of a split segment (identifier + elements), the test on the hot path.
_PHA_LEN: Final = _WIDTH["PHA"] + 1
_PAT_LEN: Final = _WIDTH["PAT"] + 1
_DSP_LEN: Final = _WIDTH["DSP"] + 1
_PRE_LEN: Final = _WIDTH["PRE"] + 1
_CDI_LEN: Final = _WIDTH["CDI"] + 1
_AIR_LEN: Final = _WIDTH["AIR"] + 1

# Segment identifier as split off the segment, including the line breaks producers put after the
# terminator, → canonical identifier. Other leading whitespace takes the slow path.
_KINDS: Final[dict[str, str]] = {prefix + kind: kind for kind in _WIDTH for prefix in ("", "\n", "\r\n", "\r", "\n\r")}

# Which segment may precede each one.
_AFTER: Final[dict[str, frozenset[str]]] = {
    "TH": frozenset(),
    "IS": frozenset({"TH"}),
    "PHA": frozenset({"IS", "TP"}),
    "PAT": frozenset({"PHA", "DSP", "PRE", "CDI", "AIR"}),
    "DSP": frozenset({"PAT", "DSP", "PRE", "CDI", "AIR"}),
    "PRE": frozenset({"DSP"}),
    "CDI": frozenset({"DSP", "PRE", "CDI"}),
    "AIR": frozenset({"DSP", "PRE", "CDI"}),
    "TP": frozenset({"DSP", "PRE", "CDI", "AIR"}),
    "TT": frozenset({"TP"}),
}

_STATUSES: Final = frozenset({"00", "01", "02"})
_GENDERS: Final = frozenset({"F", "M", "U", ""})

_NOT_DATE: Final = "not a valid date (CCYYMMDD)"
_REQUIRED: Final = "required"

_new_pharmacy = fast_constructor(Pharmacy, skip_first=True)
_new_patient = fast_constructor(Patient, skip_first=True)
_new_dispensing = fast_constructor(Dispensing, skip_first=True)
_new_prescriber = fast_constructor(Prescriber, skip_first=True)
_new_compound = fast_constructor(CompoundIngredient, skip_first=True)
_new_additional = fast_constructor(AdditionalInfo, skip_first=True)
_new_record = fast_constructor(DispensationRecord)


class _Stop(Exception):
    """Internal: reading ends here (fatal input problem or too many errors); never escapes."""


class AsapReader:
    """Iterate over an ASAP 4.2 file's records; see the module docstring for the rules.

    ``for item in AsapReader(f): ...`` yields :class:`DispensationRecord` and :class:`ZeroReport`
    in file order. After the iteration, ``header``, ``source``, ``errors``, ``segment_count`` and
    ``record_count`` (records and zero reports yielded) describe the file. Iterate once.
    """

    def __init__(
        self,
        stream: BinaryIO,
        *,
        max_segment_bytes: int = DEFAULT_MAX_SEGMENT_BYTES,
        max_errors: int = DEFAULT_MAX_ERRORS,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
    ) -> None:
        self._stream = stream
        self._max_segment = max_segment_bytes
        self._max_errors = max_errors
        self._chunk_size = max(chunk_size, 1)
        self.header: TransactionHeader | None = None
        self.source: InformationSource | None = None
        self.errors: list[AsapError] = []
        self.segment_count = 0
        self.record_count = 0
        self._sep = "*"
        self._period: tuple[str, str] | None = None
        self._tail = b""
        self._items = self._read()

    def __iter__(self) -> Iterator[Item]:
        return self._items

    # -- errors ------------------------------------------------------------------------------

    def _error(self, number: int, segment: str, field: str, reason: str) -> None:
        """Record one problem; past ``max_errors`` record a last one and stop reading."""
        if len(self.errors) >= self._max_errors:
            reason = f"more than {self._max_errors} errors; reading stopped"
            self.errors.append(AsapError(number, segment, "", reason))
            raise _Stop
        self.errors.append(AsapError(number, segment, field, reason))

    def _report(self, number: int, segment: str, problems: Problems) -> None:
        for field, reason in problems:
            self._error(number, segment, field, reason)

    # -- the file ----------------------------------------------------------------------------

    def _read(self) -> Iterator[Item]:
        """The whole file: TH first (it defines the delimiters), then everything else."""
        try:
            prologue = self._prologue()
            if prologue is None:
                return
            th_fields, rest = prologue
            self.segment_count = 1
            self._transaction_header(th_fields)
            yield from self._segments(self._blocks(rest))
        except _Stop:
            return
        finally:
            # Encoding errors are found when a chunk is decoded, before its segments are walked.
            self.errors.sort(key=_segment_number)

    def _prologue(self) -> tuple[list[str], bytes] | None:
        """Find the TH segment and the delimiters it declares; None (and an error) if unusable."""
        data = self._read_at_least(self._max_segment + 16)
        if not data:
            self._error(1, "TH", "", "the file is empty")
            return None
        data = data.removeprefix(_BOM).lstrip()
        if not data.startswith(b"TH"):
            self._error(1, "TH", "", "the file does not start with a TH segment")
            return None
        sep = data[2:3]
        if not _usable_delimiter(sep):
            self._error(1, "TH", "", "no usable data element separator after TH")
            return None
        end = self._th09_position(data, sep)
        if end is None:
            return None
        try:
            text = data[: end + 1].decode("utf-8")
        except UnicodeDecodeError:
            self._error(1, "TH", "", "not valid UTF-8")
            return None
        self._sep = sep.decode("ascii")
        return text.split(self._sep), data[end + 2 :]

    def _th09_position(self, data: bytes, sep: bytes) -> int | None:
        """Index of TH09 (after the 9th separator), checked to be a terminator repeated once."""
        position = 2
        for _ in range(8):
            position = data.find(sep, position + 1)
            if position < 0 or position > self._max_segment:
                self._error(1, "TH", "TH09", "TH segment incomplete: fewer than 9 elements")
                return None
        end = position + 1
        terminator = data[end : end + 1]
        if not _usable_delimiter(terminator) or terminator == sep or data[end + 1 : end + 2] != terminator:
            reason = "must be the segment terminator character, followed by that terminator"
            self._error(1, "TH", "TH09", reason)
            return None
        return end

    def _read_at_least(self, size: int) -> bytes:
        """Read until ``size`` bytes or the end of the stream (short reads are allowed)."""
        buffer = bytearray()
        while len(buffer) < size:
            chunk = self._stream.read(self._chunk_size)
            if not chunk:
                break
            buffer += chunk
        return bytes(buffer)

    def _blocks(self, rest: bytes) -> Iterator[list[str]]:
        """The segments after TH, a chunk's worth at a time, decoded; the unterminated end in ``_tail``."""
        assert self.header is not None
        terminator = self.header.segment_terminator
        raw_terminator = terminator.encode("ascii")
        emitted = 1
        pending = b""
        chunk = rest
        while True:
            if chunk:
                data = pending + chunk
                cut = data.rfind(raw_terminator)
                if cut < 0:
                    pending = data
                else:
                    segments = self._decode(data[:cut], emitted, terminator)
                    pending = data[cut + 1 :]
                    if max(map(len, segments)) > self._max_segment:
                        yield from self._too_long(segments, emitted)
                    emitted += len(segments)
                    yield segments
                if len(pending) > self._max_segment:
                    self._error(emitted + 1, "", "", self._too_long_reason())
                    raise _Stop
            chunk = self._stream.read(self._chunk_size)
            if not chunk:
                break
        self._tail = pending

    def _too_long(self, segments: list[str], emitted: int) -> Iterator[list[str]]:
        """Hand out the segments before the first over-long one, report it and stop."""
        index = next(i for i, segment in enumerate(segments) if len(segment) > self._max_segment)
        yield segments[:index]
        self._error(emitted + index + 1, _segment_id(segments[index], self._sep), "", self._too_long_reason())
        raise _Stop

    def _too_long_reason(self) -> str:
        return f"segment longer than {self._max_segment} bytes; reading stopped"

    def _decode(self, raw: bytes, emitted: int, terminator: str) -> list[str]:
        """Split a run of whole segments; bytes that are not UTF-8 are an error of their segment."""
        try:
            return raw.decode("utf-8").split(terminator)
        except UnicodeDecodeError:
            pass
        segments = []
        for number, piece in enumerate(raw.split(terminator.encode("ascii")), emitted + 1):
            try:
                segments.append(piece.decode("utf-8"))
            except UnicodeDecodeError:
                text = piece.decode("utf-8", "replace")
                self._error(number, _segment_id(text, self._sep), "", "not valid UTF-8")
                segments.append(text)
        return segments

    # -- segments ----------------------------------------------------------------------------

    def _segments(self, blocks: Iterator[list[str]]) -> Iterator[Item]:
        """Walk the segments after TH: check order and fields, build and yield records."""
        error = self._error
        sep = self._sep
        kinds = _KINDS
        after = _AFTER
        new_record = _new_record
        new_dispensing = _new_dispensing
        prescribers: dict[str, Prescriber] = {}
        patients: dict[str, Patient] = {}

        number = 1
        records = 0
        previous = "TH"
        ended = False
        pharmacy: Pharmacy | None = None
        patient: Patient | None = None
        zero = False
        loop_start = 0
        dispensing: Dispensing | None = None
        dsp_number = 0
        prescriber: Prescriber | None = None
        compounds: tuple[CompoundIngredient, ...] = ()
        additional: AdditionalInfo | None = None
        try:
            for block in blocks:
                for segment in block:
                    number += 1
                    parts = segment.split(sep)
                    kind = kinds.get(parts[0])
                    if kind is None:
                        kind = self._identify(parts[0], number, ended)
                        if kind is None:
                            continue
                    if ended:
                        error(number, kind, "", "data after the TT segment")
                        raise _Stop
                    if previous not in after[kind]:
                        error(number, kind, "", f"{kind} segment not allowed after {previous}")
                    previous = kind

                    # PRE, CDI, AIR complete the pending DSP.
                    if kind == "PRE":
                        if dispensing is not None:
                            prescriber = prescribers.get(segment)
                            if prescriber is None:
                                prescriber = self._prescriber(segment, parts, number, prescribers)
                        continue
                    if kind == "CDI":
                        if dispensing is not None and not _blank(segment, parts, sep):
                            if len(parts) != _CDI_LEN:
                                parts = self._fit(parts, number, kind)
                            compounds += (_new_compound(*parts),)
                        continue
                    if kind == "AIR":
                        if dispensing is not None and not _blank(segment, parts, sep):
                            if len(parts) != _AIR_LEN:
                                parts = self._fit(parts, number, kind)
                            additional = _new_additional(*parts)
                        continue

                    # Any other segment closes the pending DSP.
                    if dispensing is not None:
                        records += 1
                        yield new_record(pharmacy, patient, dispensing, prescriber, compounds, additional, dsp_number)
                        dispensing = None

                    if kind == "DSP":
                        if len(parts) != _DSP_LEN:
                            parts = self._fit(parts, number, kind)
                        problems = _dispensing_problems(parts, zero)
                        if problems:
                            self._report(number, kind, problems)
                        elif pharmacy is None or patient is None:
                            pass  # its PHA or PAT was wrong or missing, already reported
                        elif zero:
                            records += 1
                            yield self._zero_report(pharmacy, parts[5], number)
                        else:
                            dispensing = new_dispensing(*parts)
                            dsp_number = number
                            prescriber = None
                            compounds = ()
                            additional = None
                    elif kind == "PAT":
                        if len(parts) != _PAT_LEN:
                            parts = self._fit(parts, number, kind)
                        zero = _is_zero_report(parts)
                        # A patient's identical PAT repeats across loops and files: one object per text lets
                        # consumers cache per patient by identity.
                        patient = patients.get(segment)
                        if patient is None:
                            patient = self._patient(parts, number, zero)
                            if patient is not None:
                                if len(patients) >= _PATIENT_CACHE_MAX:
                                    patients.clear()
                                patients[segment] = patient
                    elif kind == "PHA":
                        if len(parts) != _PHA_LEN:
                            parts = self._fit(parts, number, kind)
                        pharmacy = self._pharmacy(parts, number)
                        patient = None
                        zero = False
                        loop_start = number
                    elif kind == "TP":
                        self._pharmacy_trailer(self._fit(parts, number, kind), number, loop_start)
                        pharmacy = patient = None
                        zero = False
                        loop_start = 0
                    elif kind == "IS":
                        self._information_source(self._fit(parts, number, kind), number)
                    elif kind == "TT":
                        self._transaction_trailer(self._fit(parts, number, kind), number)
                        ended = True
                    # A second TH has been reported as out of order; nothing else to do.
            if dispensing is not None:
                records += 1
                yield new_record(pharmacy, patient, dispensing, prescriber, compounds, additional, dsp_number)
        finally:
            self.segment_count = number
            self.record_count = records
        self._finish(number, ended)

    def _identify(self, head: str, number: int, ended: bool) -> str | None:
        """Slow path for an identifier the table does not know: other whitespace, or unknown."""
        kind = _KINDS.get(head.lstrip())
        if kind is not None:
            return kind
        if ended:
            self._error(number, "", "", "data after the TT segment")
            raise _Stop
        if not head.strip():
            self._error(number, "", "", "empty segment")
        else:
            self._error(number, "", "", "unknown segment identifier")
        return None

    def _fit(self, parts: list[str], number: int, kind: str) -> list[str]:
        """Pad omitted trailing elements; report elements beyond those the segment defines."""
        size = _WIDTH[kind] + 1
        if len(parts) < size:
            parts.extend([""] * (size - len(parts)))
            return parts
        if any(parts[size:]):
            self._error(number, kind, f"{kind}{size:02d}", "unexpected element after the last one defined")
        del parts[size:]
        return parts

    def _finish(self, number: int, ended: bool) -> None:
        """End of stream: an unterminated last segment or a missing TT means a truncated file."""
        if self._tail.strip():
            if ended:
                self._error(number + 1, "", "", "data after the TT segment")
                return
            number += 1
            segment = _segment_id(self._tail[:8].decode("ascii", "replace"), self._sep)
            self._error(number, segment, "", "last segment has no terminator (file truncated?)")
        if not ended:
            self._error(number + 1, "TT", "", "the file ends without a TT segment (truncated?)")

    # -- one segment each ----------------------------------------------------------------------

    def _transaction_header(self, parts: list[str]) -> None:
        header = TransactionHeader(*self._fit(parts, 1, "TH")[1:])
        self.header = header
        if header.version not in SUPPORTED_VERSIONS:
            self._error(1, "TH", "TH01", "unsupported version (4.2, 4.2A or 4.2B expected)")
        if not header.control_number:
            self._error(1, "TH", "TH02", _REQUIRED)
        if not is_date(header.creation_date):
            self._error(1, "TH", "TH05", _date_reason(header.creation_date))

    def _information_source(self, parts: list[str], number: int) -> None:
        source = InformationSource(*parts[1:])
        self.source = source
        self._period = parse_period(source.message)
        if not source.source_id:
            self._error(number, "IS", "IS01", _REQUIRED)

    def _pharmacy(self, parts: list[str], number: int) -> Pharmacy | None:
        if parts[1] or parts[2] or parts[3]:
            return _new_pharmacy(*parts)
        self._error(number, "PHA", "PHA01", "one of PHA01 (NPI), PHA02 (NCPDP) or PHA03 (DEA) is required")
        return None

    def _patient(self, parts: list[str], number: int, zero: bool) -> Patient | None:
        problems = _patient_problems(parts, zero)
        if problems:
            self._report(number, "PAT", problems)
            return None
        return _new_patient(*parts)

    def _prescriber(
        self, segment: str, parts: list[str], number: int, cache: dict[str, Prescriber]
    ) -> Prescriber | None:
        """Build a PRE (None if blank) and remember it: prescribers repeat across a file."""
        if _blank(segment, parts, self._sep):
            return None
        if len(parts) != _PRE_LEN:
            parts = self._fit(parts, number, "PRE")
        prescriber = _new_prescriber(*parts)
        if len(cache) >= _PRESCRIBER_CACHE_MAX:
            cache.clear()
        cache[segment] = prescriber
        return prescriber

    def _zero_report(self, pharmacy: Pharmacy, date_filled: str, number: int) -> ZeroReport:
        start, end = self._period or (date_filled, date_filled)
        return ZeroReport(pharmacy, start, end, number)

    def _pharmacy_trailer(self, parts: list[str], number: int, loop_start: int) -> None:
        if loop_start:
            expected = number - loop_start + 1
            if not _is_number(parts[1], expected):
                reason = f"segment count does not match the {expected} segments from PHA to TP"
                self._error(number, "TP", "TP01", reason)

    def _transaction_trailer(self, parts: list[str], number: int) -> None:
        if self.header is not None and parts[1] != self.header.control_number:
            self._error(number, "TT", "TT01", "does not match the transaction control number (TH02)")
        if not _is_number(parts[2], number):
            reason = f"segment count does not match the {number} segments from TH to TT"
            self._error(number, "TT", "TT02", reason)


def read_asap(
    stream: BinaryIO,
    *,
    max_segment_bytes: int = DEFAULT_MAX_SEGMENT_BYTES,
    max_errors: int = DEFAULT_MAX_ERRORS,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> AsapReader:
    """A reader over ``stream``: ``reader = read_asap(f); records = list(reader); reader.errors``."""
    return AsapReader(stream, max_segment_bytes=max_segment_bytes, max_errors=max_errors, chunk_size=chunk_size)


# -- field checks (pure; a list of (field, reason), empty when the segment is fine) ---------------


def _dispensing_problems(p: list[str], zero: bool) -> Problems:
    """DSP checks; a zero report's DSP only needs its status and a fill date.

    Runs for every record, so the common checks are written out inline (``DATE_CACHE`` first,
    digits tested with ``str`` methods) rather than calling the helpers in :mod:`checks`.
    """
    problems: Problems = []
    dates = DATE_CACHE
    if p[1] not in _STATUSES:
        problems.append(("DSP01", "not a reporting status (00, 01 or 02)"))
    value = p[5]
    if not (dates.get(value) or is_date(value)):
        problems.append(("DSP05", _date_reason(value)))
    if zero:
        return problems
    if not p[2]:
        problems.append(("DSP02", _REQUIRED))
    value = p[3]
    if value and not (dates.get(value) or is_date(value)):
        problems.append(("DSP03", _NOT_DATE))
    value = p[6]
    if not (value.isdigit() and value.isascii() and len(value.lstrip("0")) <= 2):
        problems.append(("DSP06", "not an integer from 0 to 99" if value else _REQUIRED))
    value = p[8]
    if p[7] == "01":
        if not (len(value) == 11 and value.isdigit() and value.isascii()):
            problems.append(("DSP08", "not an 11-digit NDC (DSP07 is 01)" if value else _REQUIRED))
    elif not value:
        problems.append(("DSP08", _REQUIRED))
    value = p[9]
    if not ((value.isdigit() and value.isascii() and value.strip("0")) or is_positive_decimal(value)):
        problems.append(("DSP09", "not a positive decimal quantity" if value else _REQUIRED))
    value = p[10]
    if not (value.isdigit() and value.isascii()):
        problems.append(("DSP10", "not a whole number of days" if value else _REQUIRED))
    value = p[17]
    if value and not (dates.get(value) or is_date(value)):
        problems.append(("DSP17", _NOT_DATE))
    return problems


def _patient_problems(p: list[str], zero: bool) -> Problems:
    """PAT checks; a zero report's placeholder patient has no birth date."""
    problems: Problems = []
    if not p[7]:
        problems.append(("PAT07", _REQUIRED))
    birth_date = p[18]
    if zero:
        if birth_date and not is_date(birth_date):
            problems.append(("PAT18", _NOT_DATE))
        return problems
    if not (DATE_CACHE.get(birth_date) or is_date(birth_date)):
        problems.append(("PAT18", _date_reason(birth_date)))
    if p[19] not in _GENDERS:
        problems.append(("PAT19", "not a gender code (F, M or U)"))
    return problems


def _is_zero_report(p: list[str]) -> bool:
    """PAT07 REPORT and PAT08 ZERO, in any case, mark the zero-report placeholder patient."""
    last = p[7]
    return len(last) >= 6 and last.strip().upper() == "REPORT" and p[8].strip().upper() == "ZERO"


def _is_number(text: str, expected: int) -> bool:
    """True when ``text`` writes ``expected`` in ASCII digits (length-guarded: no huge ``int()``)."""
    return is_count(text) and len(text) <= 18 and int(text) == expected


def _segment_number(error: AsapError) -> int:
    return error.segment_number


def _date_reason(value: str) -> str:
    return _NOT_DATE if value else _REQUIRED


def _blank(segment: str, parts: list[str], sep: str) -> bool:
    """True when every element is empty: all characters after the identifier are separators."""
    return segment.count(sep) == len(segment) - len(parts[0])


def _usable_delimiter(char: bytes) -> bool:
    """A delimiter is one visible ASCII character that cannot occur in data: not a letter or digit."""
    return len(char) == 1 and 0x21 <= char[0] <= 0x7E and not char.isalnum()


def _segment_id(text: str, sep: str) -> str:
    """The segment identifier of ``text`` if it is a known one, else "" (never echo unknown text)."""
    head = text.lstrip().split(sep, 1)[0]
    return head if head in _WIDTH else ""
