"""Field checks and the fast constructor behind the reader."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime

import pytest
from asap_strategies import a_record
from hypothesis import given
from hypothesis import strategies as st

from adapters.asap._fast import fast_constructor
from adapters.asap.checks import (
    format_period,
    is_count,
    is_date,
    is_ndc,
    is_positive_decimal,
    parse_period,
)
from adapters.asap.model import DispensationRecord, Dispensing, Pharmacy


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        ("20240229", True),
        ("20230229", False),
        ("20230231", False),
        ("20231301", False),
        ("00000000", False),
        ("19000101", True),
        ("2024022", False),
        ("202402290", False),
        ("2024-02-", False),
        ("２０２４０２２９", False),
        ("", False),
    ],
)
def test_is_date(text: str, valid: bool) -> None:
    assert is_date(text) is valid
    assert is_date(text) is valid  # and again, from the cache


@given(st.text("0123456789", min_size=8, max_size=8))
def test_is_date_agrees_with_strptime(text: str) -> None:
    try:
        datetime.strptime(text, "%Y%m%d")
        expected = text[:4] != "0000"
    except ValueError:
        expected = False
    assert is_date(text) is expected


@given(st.dates())
def test_every_calendar_date_is_a_date(day: date) -> None:
    assert is_date(f"{day.year:04d}{day.month:02d}{day.day:02d}")


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        ("30", True),
        ("0.5", True),
        (".5", True),
        ("007", True),
        ("12.250", True),
        ("0", False),
        ("0.0", False),
        (".", False),
        ("3.", False),
        ("-3", False),
        ("+3", False),
        ("1e3", False),
        ("1_000", False),
        (" 3", False),
        ("inf", False),
        ("nan", False),
        ("1.2.3", False),
        ("٣", False),
        ("", False),
    ],
)
def test_is_positive_decimal(text: str, valid: bool) -> None:
    assert is_positive_decimal(text) is valid


def test_counts_and_ndcs() -> None:
    assert is_count("0") and is_count("365")
    assert not is_count("") and not is_count("-1") and not is_count("²") and not is_count("1.0")
    assert is_ndc("00406052301")
    assert not is_ndc("0040605230") and not is_ndc("00406-0523-01") and not is_ndc("0040605230١")


def test_zero_report_period() -> None:
    assert parse_period("#20150101#-#20150107#") == ("20150101", "20150107")
    assert parse_period(" #20150101#-#20150107# ") == ("20150101", "20150107")
    assert parse_period(format_period("20240101", "20240131")) == ("20240101", "20240131")
    assert parse_period("#20150107#-#20150101#") is None  # backwards
    assert parse_period("#20150231#-#20150301#") is None
    assert parse_period("20150101-20150107") is None
    assert parse_period("") is None


def test_fast_constructor_builds_genuine_frozen_instances() -> None:
    record = a_record()
    make = fast_constructor(Dispensing, skip_first=True)
    values = [f.name.upper() for f in dataclasses.fields(Dispensing)]
    built = make("DSP", *values)
    assert type(built) is Dispensing
    assert built == Dispensing(*values)
    assert hash(built) == hash(Dispensing(*values))
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.rx_number = "X"  # type: ignore[misc]
    make_record = fast_constructor(DispensationRecord)
    copy = make_record(*(getattr(record, f.name) for f in dataclasses.fields(DispensationRecord)))
    assert copy == record and type(copy) is DispensationRecord
    assert repr(copy) == repr(record)
    assert dataclasses.replace(copy, segment_number=4).segment_number == 4


def test_fast_constructor_falls_back_when_layouts_differ() -> None:
    @dataclasses.dataclass(frozen=True)  # no slots: __class__ assignment is refused
    class Plain:
        a: str
        b: str = ""

    make = fast_constructor(Plain, skip_first=True)
    assert make("ID", "x", "y") == Plain("x", "y")
    assert fast_constructor(Plain)("x", "y") == Plain("x", "y")
    assert fast_constructor(Pharmacy, skip_first=True)("PHA", *"abcdefghijklm").key == "ncpdp:b"
