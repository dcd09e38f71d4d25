"""Writer → reader round trips over generated files: every record comes back identical, no errors."""

from __future__ import annotations

import dataclasses
import io

import pytest
from asap_strategies import (
    HEADER,
    SOURCE,
    a_record,
    asap_files,
    expected_items,
    read_bytes,
    sample_text,
    without_numbers,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.asap.model import AsapFile, DispensationRecord, PharmacyLoop, ZeroReport
from adapters.asap.writer import AsapWriteError, format_asap, write_asap

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(
    file=asap_files(),
    terminator=st.sampled_from(["~", "\\"]),
    line_breaks=st.booleans(),
    compact=st.booleans(),
)
def test_round_trip_gives_back_identical_records(
    file: AsapFile, terminator: str, line_breaks: bool, compact: bool
) -> None:
    text = format_asap(file, terminator=terminator, line_breaks=line_breaks, compact=compact)
    reader, items = read_bytes(text.encode("utf-8"))

    assert reader.errors == []
    assert without_numbers(items) == expected_items(file)
    assert reader.header == dataclasses.replace(file.header, segment_terminator=terminator)
    assert reader.source == file.source
    assert reader.record_count == len(items)
    assert reader.segment_count == text.count(terminator) - 1  # TH states it twice


@SETTINGS
@given(file=asap_files(max_pharmacies=2), chunk_size=st.integers(1, 97), crlf=st.booleans())
def test_chunk_boundaries_anywhere_change_nothing(file: AsapFile, chunk_size: int, crlf: bool) -> None:
    """Chunks split segments and multi-byte characters at arbitrary points."""
    text = format_asap(file)
    if crlf:
        text = text.replace("\n", "\r\n")
    data = text.encode("utf-8")
    whole, expected = read_bytes(data)
    chunked, items = read_bytes(data, chunk_size=chunk_size)
    assert chunked.errors == whole.errors == []
    assert items == expected


@SETTINGS
@given(file=asap_files())
def test_segment_numbers_point_at_the_dsp(file: AsapFile) -> None:
    text = format_asap(file, terminator="~", line_breaks=False)
    segments = text.split("~")
    del segments[1]  # TH09 + terminator: the TH counts once
    _, items = read_bytes(text.encode())
    for item in items:
        assert segments[item.segment_number - 1].startswith("DSP*")


@SETTINGS
@given(file=asap_files())
def test_write_asap_streams_the_same_text(file: AsapFile) -> None:
    out = io.StringIO()
    write_asap(file, out, terminator="\\", line_breaks=False)
    assert out.getvalue() == format_asap(file, terminator="\\", line_breaks=False)


@SETTINGS
@given(file=asap_files())
def test_counts_follow_the_standard(file: AsapFile) -> None:
    """TP01 = PHA…TP inclusive; TT02 = TH…TT inclusive; a zero-report loop is 7 segments."""
    lines = format_asap(file).splitlines()
    loop_start = 0
    for index, line in enumerate(lines):
        if line.startswith("PHA*"):
            loop_start = index
        elif line.startswith("TP*"):
            assert line == f"TP*{index - loop_start + 1}~"
    assert lines[-1] == f"TT*{file.header.control_number}*{len(lines)}~"
    for loop in file.pharmacies:
        assert not loop.zero_report or "TP*7~" in lines


def test_zero_report_shape_matches_the_standard() -> None:
    """Writing the parafill sample's content reproduces its zero-report segments exactly."""
    sample = sample_text("parafill-asap_4.2A_zero-report_test-expectation.txt")
    reader, items = read_bytes(sample.encode())
    assert reader.header is not None and reader.source is not None
    [zero] = items
    assert isinstance(zero, ZeroReport)
    file = AsapFile(reader.header, reader.source, [PharmacyLoop(zero.pharmacy, [], zero_report=True)])
    text = format_asap(file, terminator="\\")
    expected = sample.replace("PRE*123456********", "PRE*********")
    assert text == expected


def test_writer_refuses_values_that_break_the_syntax() -> None:
    record = a_record()
    bad = dataclasses.replace(record, dispensing=dataclasses.replace(record.dispensing, rx_number="A*B"))
    file = _file_of(bad)
    with pytest.raises(AsapWriteError, match="DSP"):
        format_asap(file)
    with pytest.raises(AsapWriteError):
        format_asap(_file_of(dataclasses.replace(record, patient=dataclasses.replace(record.patient, city="X~"))))
    with pytest.raises(AsapWriteError):
        format_asap(_file_of(dataclasses.replace(record, patient=dataclasses.replace(record.patient, city="a\nb"))))


def test_writer_refuses_a_bad_terminator() -> None:
    record = a_record()
    for terminator in ("*", "A", "~~", "\n", ""):
        with pytest.raises(AsapWriteError):
            format_asap(_file_of(record), terminator=terminator)


def test_writer_refuses_inconsistent_loops() -> None:
    record = a_record()
    file = _file_of(record)
    file.pharmacies[0].zero_report = True
    with pytest.raises(AsapWriteError, match="zero-report"):
        format_asap(file)
    other = dataclasses.replace(record.pharmacy, npi="9999999999")
    with pytest.raises(AsapWriteError, match="pharmacy"):
        format_asap(AsapFile(file.header, file.source, [PharmacyLoop(other, [record])]))
    zero_patient = dataclasses.replace(record.patient, last_name="Report", first_name="zero")
    with pytest.raises(AsapWriteError, match="zero report"):
        format_asap(_file_of(dataclasses.replace(record, patient=zero_patient)))


def test_new_pat_only_when_the_patient_changes() -> None:
    record = a_record()
    second = dataclasses.replace(record, dispensing=dataclasses.replace(record.dispensing, rx_number="RX2"))
    other = dataclasses.replace(record, patient=dataclasses.replace(record.patient, first_name="OTHER"))
    text = format_asap(_file_of(record, second, other))
    assert text.count("\nPAT*") == 2
    _, items = read_bytes(text.encode())
    assert isinstance(items[0], DispensationRecord) and isinstance(items[1], DispensationRecord)
    assert items[0].patient is items[1].patient  # one PAT, one shared object


def _file_of(*records: DispensationRecord) -> AsapFile:
    return AsapFile(HEADER, SOURCE, [PharmacyLoop(records[0].pharmacy, list(records))])
