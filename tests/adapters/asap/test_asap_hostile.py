"""Hostile and broken input: every problem is reported with where it is, nothing is ever raised."""

from __future__ import annotations

import io
import tracemalloc

import pytest
from asap_strategies import asap_files, read_bytes
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_asap_reader import REALISTIC, REALISTIC_SEGMENTS

from adapters.asap.model import AsapError, AsapFile, DispensationRecord
from adapters.asap.reader import AsapReader
from adapters.asap.writer import format_asap

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _with(index: int, segment: str) -> bytes:
    """The realistic file with segment ``index`` (0-based) replaced."""
    segments = [*REALISTIC_SEGMENTS]
    segments[index] = segment
    return ("~\r\n".join(segments) + "~\r\n").encode("utf-8")


def _where(errors: list[AsapError]) -> list[tuple[int, str, str]]:
    return [(e.segment_number, e.segment, e.field) for e in errors]


# -- structure ------------------------------------------------------------------------------------


def test_empty_file() -> None:
    reader, items = read_bytes(b"")
    assert _where(reader.errors) == [(1, "TH", "")]
    assert "empty" in reader.errors[0].reason
    assert items == []
    assert reader.header is None


def test_whitespace_only_file() -> None:
    reader, _ = read_bytes(b" \r\n\r\n")
    assert _where(reader.errors) == [(1, "TH", "")]


def test_no_th() -> None:
    reader, _ = read_bytes(REALISTIC[REALISTIC.index(b"IS*") :])
    assert _where(reader.errors) == [(1, "TH", "")]
    assert "TH" in reader.errors[0].reason


@pytest.mark.parametrize(
    "th",
    [
        b"TH*4.2*1*01**20240115*1530*P**~\r\n",  # TH09 not repeated
        b"TH*4.2*1*01**20240115*1530*P***~",  # TH09 empty
        b"TH*4.2*1*01**20240115*1530*P**A~",  # letter as terminator
        b"TH*4.2*1*01**20240115*1530*P~~",  # too few elements
        b"TH*4.2*1*01**20240115*1530*P**",  # cut inside TH
    ],
)
def test_unusable_th09(th: bytes) -> None:
    reader, items = read_bytes(th + b"IS*1*X*~")
    assert _where(reader.errors) == [(1, "TH", "TH09")]
    assert items == []


def test_unusable_separator() -> None:
    reader, _ = read_bytes(b"THA4.2A1")
    assert _where(reader.errors) == [(1, "TH", "")]


def test_truncated_file_misses_tt() -> None:
    data = REALISTIC[: REALISTIC.index(b"TT*")]
    reader, items = read_bytes(data)
    assert _where(reader.errors) == [(23, "TT", "")]
    assert "truncated" in reader.errors[0].reason
    assert len(items) == 5  # records are yielded; the consumer rolls back on errors


def test_truncated_inside_a_segment() -> None:
    data = REALISTIC[: REALISTIC.index(b"RX2000000") + 3]
    reader, _ = read_bytes(data)
    assert _where(reader.errors) == [(21, "DSP", ""), (22, "TT", "")]
    assert "no terminator" in reader.errors[0].reason


def test_wrong_tp_count() -> None:
    reader, items = read_bytes(_with(12, "TP*10"))
    assert _where(reader.errors) == [(13, "TP", "TP01")]
    assert "11 segments" in reader.errors[0].reason
    assert len(items) == 5


def test_non_numeric_tp_count() -> None:
    reader, _ = read_bytes(_with(12, "TP*ELEVEN"))
    assert _where(reader.errors) == [(13, "TP", "TP01")]


def test_wrong_tt_count() -> None:
    reader, _ = read_bytes(_with(22, "TT*TCN20240115001*22"))
    assert _where(reader.errors) == [(23, "TT", "TT02")]


def test_tt01_must_repeat_th02() -> None:
    reader, _ = read_bytes(_with(22, "TT*TCN20240115999*23"))
    assert _where(reader.errors) == [(23, "TT", "TT01")]


def test_dsp_before_pat() -> None:
    segments = [*REALISTIC_SEGMENTS]
    segments[3], segments[4] = segments[4], segments[3]  # PHA DSP PAT PRE
    reader, items = read_bytes(("~".join(segments) + "~").encode())
    assert _where(reader.errors) == [(4, "DSP", ""), (6, "PRE", "")]
    assert reader.errors[0].reason == "DSP segment not allowed after PHA"
    assert reader.errors[1].reason == "PRE segment not allowed after PAT"
    assert all(isinstance(i, DispensationRecord) and i.dispensing.rx_number != "RX1000001" for i in items)


def test_pha_without_records() -> None:
    segments = [*REALISTIC_SEGMENTS[:2], "PHA*1234567893", "TP*2", "TT*TCN20240115001*5"]
    reader, _ = read_bytes(("~".join(segments) + "~").encode())
    assert _where(reader.errors) == [(4, "TP", "")]


def test_data_after_tt() -> None:
    reader, items = read_bytes(REALISTIC + b"PHA*1234567893~")
    assert _where(reader.errors) == [(24, "PHA", "")]
    assert "after the TT" in reader.errors[0].reason
    assert len(items) == 5


def test_unterminated_data_after_tt() -> None:
    reader, _ = read_bytes(REALISTIC + b"garbage")
    assert _where(reader.errors) == [(24, "", "")]


def test_second_file_appended() -> None:
    reader, items = read_bytes(REALISTIC + REALISTIC)
    assert _where(reader.errors) == [(24, "TH", "")]
    assert len(items) == 5


def test_unknown_and_empty_segments() -> None:
    segments = [*REALISTIC_SEGMENTS]
    segments.insert(5, "XYZ*1*2")
    segments.insert(6, "")
    reader, _ = read_bytes(("~".join(segments) + "~").encode())
    assert _where(reader.errors)[:2] == [(6, "", ""), (7, "", "")]
    assert [e.reason for e in reader.errors[:2]] == ["unknown segment identifier", "empty segment"]


def test_extra_elements() -> None:
    reader, _ = read_bytes(_with(4, REALISTIC_SEGMENTS[4] + "*" * 9 + "X"))
    assert _where(reader.errors) == [(5, "DSP", "DSP26")]
    reader, _ = read_bytes(_with(4, REALISTIC_SEGMENTS[4] + "*" * 20))  # empty extras are fine
    assert reader.errors == []


# -- fields ---------------------------------------------------------------------------------------


def _dsp(**changes: str) -> str:
    fields = REALISTIC_SEGMENTS[4].split("*")
    fields += [""] * (26 - len(fields))
    for name, value in changes.items():
        fields[int(name[3:])] = value
    return "*".join(fields)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"DSP05": "20230231"}, "DSP05"),
        ({"DSP05": ""}, "DSP05"),
        ({"DSP05": "2023-01-01"}, "DSP05"),
        ({"DSP03": "20231301"}, "DSP03"),
        ({"DSP17": "00000000"}, "DSP17"),
        ({"DSP01": "03"}, "DSP01"),
        ({"DSP01": ""}, "DSP01"),
        ({"DSP02": ""}, "DSP02"),
        ({"DSP06": "100"}, "DSP06"),
        ({"DSP06": "-1"}, "DSP06"),
        ({"DSP06": ""}, "DSP06"),
        ({"DSP08": "0040605230"}, "DSP08"),
        ({"DSP08": "0040605230X"}, "DSP08"),
        ({"DSP08": "00406-0523-01"}, "DSP08"),
        ({"DSP08": ""}, "DSP08"),
        ({"DSP07": "06", "DSP08": ""}, "DSP08"),
        ({"DSP09": "THIRTY"}, "DSP09"),
        ({"DSP09": "0"}, "DSP09"),
        ({"DSP09": "-3"}, "DSP09"),
        ({"DSP09": "1e3"}, "DSP09"),
        ({"DSP09": "3."}, "DSP09"),
        ({"DSP09": "３０"}, "DSP09"),  # full-width digits
        ({"DSP09": ""}, "DSP09"),
        ({"DSP10": "7.5"}, "DSP10"),
        ({"DSP10": ""}, "DSP10"),
    ],
)
def test_bad_dispensing_field(changes: dict[str, str], field: str) -> None:
    reader, items = read_bytes(_with(4, _dsp(**changes)))
    assert _where(reader.errors) == [(5, "DSP", field)]
    assert changes[field] == "" or changes[field] not in reader.errors[0].reason
    numbers = [i.segment_number for i in items]
    assert 5 not in numbers  # the bad record is not handed out
    assert 7 in numbers  # the next one is


def test_good_dispensing_variants() -> None:
    for changes in ({"DSP09": "0.5"}, {"DSP09": ".25"}, {"DSP10": "0"}, {"DSP06": "99"}, {"DSP03": ""}):
        reader, _ = read_bytes(_with(4, _dsp(**changes)))
        assert reader.errors == [], changes


@pytest.mark.parametrize(
    ("segment", "field"),
    [
        ("PAT*IL*07*123456789****DOE*JANE*Q***12 ELM ST**SPRINGFIELD*IL*62704*2175550111*19800230*F*01", "PAT18"),
        ("PAT*IL*07*123456789****DOE*JANE*Q***12 ELM ST**SPRINGFIELD*IL*62704*2175550111**F*01", "PAT18"),
        ("PAT*IL*07*123456789*****JANE*Q***12 ELM ST**SPRINGFIELD*IL*62704*2175550111*19800214*F*01", "PAT07"),
        ("PAT*IL*07*123456789****DOE*JANE*Q***12 ELM ST**SPRINGFIELD*IL*62704*2175550111*19800214*X*01", "PAT19"),
    ],
)
def test_bad_patient_field(segment: str, field: str) -> None:
    reader, items = read_bytes(_with(3, segment))
    assert _where(reader.errors) == [(4, "PAT", field)]
    assert [i.segment_number for i in items] == [11, 16, 21]  # the patient's two records are dropped


def test_pharmacy_needs_an_identifier() -> None:
    reader, items = read_bytes(_with(2, "PHA****SPRINGFIELD DRUG"))
    assert _where(reader.errors) == [(3, "PHA", "PHA01")]
    assert [i.segment_number for i in items] == [16, 21]


def test_header_and_source_fields() -> None:
    reader, _ = read_bytes(REALISTIC.replace(b"*20240115*1530", b"*20241315*1530").replace(b"IS*IL0001234", b"IS*"))
    assert _where(reader.errors) == [(1, "TH", "TH05"), (2, "IS", "IS01")]


# -- encoding and size ------------------------------------------------------------------------------


def test_invalid_utf8_names_its_segment() -> None:
    data = REALISTIC.replace("ÑUÑEZ".encode(), b"\xff\xfeNUNEZ")
    reader, _ = read_bytes(data)
    assert _where(reader.errors) == [(15, "PAT", "")]
    assert reader.errors[0].reason == "not valid UTF-8"


def test_latin1_file_is_rejected() -> None:
    reader, _ = read_bytes(REALISTIC.decode("utf-8").encode("latin-1"))
    assert {e.segment_number for e in reader.errors} == {15}


def test_over_long_segment_in_a_chunk() -> None:
    reader, items = read_bytes(_with(4, _dsp(DSP23="S" * 5000)), chunk_size=1 << 20)
    assert _where(reader.errors) == [(5, "DSP", "")]
    assert "longer than 4096" in reader.errors[0].reason
    assert items == []  # stopped before the first record was complete


class _EndlessLine(io.RawIOBase):
    """A stream of ``prefix`` then ``size`` bytes of one line, produced lazily as read."""

    def __init__(self, prefix: bytes, size: int) -> None:
        self._prefix = prefix
        self._left = size
        self.delivered = 0

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        if self._prefix:
            out, self._prefix = self._prefix[:n], self._prefix[n:]
        else:
            out = b"A" * max(0, min(n, self._left))
            self._left -= len(out)
        self.delivered += len(out)
        return out


@pytest.mark.parametrize(
    ("prefix", "where"),
    [
        (b"TH*4.2*1*01**20240115*1530*P**~~\r\nIS*", [(2, "", "")]),  # a 100 MB IS segment
        (b"TH*", [(1, "TH", "TH09")]),  # a 100 MB TH
        (b"", [(1, "TH", "")]),  # 100 MB with no TH at all
    ],
)
def test_100_mb_single_line_stops_early(prefix: bytes, where: list[tuple[int, str, str]]) -> None:
    stream = _EndlessLine(prefix, 100 * 1024 * 1024)
    tracemalloc.start()
    try:
        reader = AsapReader(stream)  # type: ignore[arg-type]
        items = list(reader)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert _where(reader.errors) == where
    assert items == []
    assert stream.delivered <= 2 * (1 << 20) + len(prefix)  # read at most two chunks
    assert peak < 8 * (1 << 20)


def test_max_errors_stops_reading() -> None:
    bad = _dsp(DSP05="20230231")
    segments = [*REALISTIC_SEGMENTS[:4], *([bad] * 500), "TP*502", "TT*TCN20240115001*505"]
    reader, items = read_bytes(("~".join(segments) + "~").encode(), max_errors=50)
    assert len(reader.errors) == 51
    assert reader.errors[-1].reason == "more than 50 errors; reading stopped"
    assert reader.errors[-1].segment_number == 55
    assert items == []


# -- no PHI in errors ----------------------------------------------------------------------------------


def test_errors_never_quote_field_values() -> None:
    name = "ZQXWVNAME"
    pat = f"PAT*IL*07*123456789****{name}*{name}*Q***{name}**{name}*IL*62704*2175550111*{name}*{name}*01"
    segments = [*REALISTIC_SEGMENTS]
    segments[3] = pat
    segments[4] = _dsp(DSP02=name, DSP05=name, DSP08=name, DSP09=name, DSP10=name)
    segments.insert(7, f"{name}*{name}")
    segments[13] = f"PAT*{name}**\udcff"  # a lone surrogate: encodes to nothing valid
    data = ("~".join(segments) + "~" + name).encode("utf-8", "surrogateescape")
    reader, _ = read_bytes(data)
    assert len(reader.errors) >= 8
    for error in reader.errors:
        assert name not in error.reason
        assert name not in error.field
        assert name not in error.segment


# -- never raises -----------------------------------------------------------------------------------


@FUZZ
@given(data=st.binary(max_size=2000))
def test_binary_garbage_never_raises(data: bytes) -> None:
    reader, _ = read_bytes(data)
    assert reader.errors


@FUZZ
@given(data=st.binary(max_size=300), chunk_size=st.integers(1, 64))
def test_garbage_after_a_valid_th_never_raises(data: bytes, chunk_size: int) -> None:
    reader, _ = read_bytes(b"TH*4.2*1*01**20240115*1530*P**~~" + data, chunk_size=chunk_size)
    assert reader.errors


@FUZZ
@given(file=asap_files(max_pharmacies=2), cut=st.floats(0, 1, exclude_max=True), terminator=st.sampled_from("~\\"))
def test_truncated_anywhere_is_reported_never_raised(file: AsapFile, cut: float, terminator: str) -> None:
    data = format_asap(file, terminator=terminator).encode("utf-8")
    end = data.rindex(terminator.encode()) + 1  # after this only the final line break
    at = int(cut * end)
    reader, _ = read_bytes(data[:at])
    assert reader.errors
    assert any(e.segment in {"TT", "TH"} or "truncated" in e.reason or "UTF-8" in e.reason for e in reader.errors)


@FUZZ
@given(
    file=asap_files(max_pharmacies=2),
    edits=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.binary(max_size=4)), min_size=1, max_size=6),
    chunk_size=st.sampled_from([3, 17, 1 << 20]),
)
def test_mutated_files_never_raise(file: AsapFile, edits: list[tuple[float, bytes]], chunk_size: int) -> None:
    data = bytearray(format_asap(file).encode("utf-8"))
    for where, replacement in edits:
        at = int(where * len(data))
        data[at : at + 1] = replacement
    reader, items = read_bytes(bytes(data), chunk_size=chunk_size, max_errors=20)
    assert len(reader.errors) <= 21
    assert reader.record_count == len(items)
    for error in reader.errors:
        assert isinstance(error.segment_number, int) and error.segment_number >= 1
        assert error.segment in {"", "TH", "IS", "PHA", "PAT", "DSP", "PRE", "CDI", "AIR", "TP", "TT"}


def test_huge_numbers_with_a_generous_segment_limit() -> None:
    """int() refuses more than 4300 digits: counts and refill numbers must not reach it."""
    digits = "9" * 10_000
    data = _with(12, "TP*" + digits).replace(b"*0*01*00406052301", f"*{digits}*01*00406052301".encode())
    reader, _ = read_bytes(data, max_segment_bytes=100_000)
    assert _where(reader.errors) == [(5, "DSP", "DSP06"), (13, "TP", "TP01"), (21, "DSP", "DSP06")]


def test_errors_come_in_segment_order() -> None:
    data = _with(4, _dsp(DSP05="20230231")).replace("ÑUÑEZ".encode(), b"\xffNUNEZ")
    reader, _ = read_bytes(data)
    assert _where(reader.errors) == [(5, "DSP", "DSP05"), (15, "PAT", "")]
