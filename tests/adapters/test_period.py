"""The report period every codec shares (``adapters.period``): defaults, the state's limit in the codec's words, and
the XML codecs' day of grace for a date in the future."""

from __future__ import annotations

from datetime import date

import pytest

from adapters.period import period_day, report_period
from protos.errors import PmpError
from protos.pmp.v1 import pmp_pb2 as pb

TODAY = date(2024, 5, 1)


class Place:
    """A place in a request, as a codec names it."""

    def error(self, problem: str) -> PmpError:
        return PmpError(pb.ERROR_CODE_INVALID_REQUEST, f"The period {problem}")


def period(start: date | None, end: date | None, *, default: int = 365, most: int = 1098) -> pb.DateRange:
    return report_period(
        start,
        end,
        today=TODAY,
        default_lookback_days=default,
        max_lookback_days=most,
        at=Place(),
        too_long="is over {days}",
    )


def test_missing_ends_default_to_today_and_the_lookback_before_the_end() -> None:
    assert period(None, None) == pb.DateRange(start="2023-05-02", end="2024-05-01")
    assert period(None, date(2024, 1, 31), default=30) == pb.DateRange(start="2024-01-01", end="2024-01-31")
    assert period(date(2024, 4, 1), None) == pb.DateRange(start="2024-04-01", end="2024-05-01")


def test_the_default_lookback_never_passes_the_limit_nor_goes_below_a_day() -> None:
    assert period(None, None, default=5000, most=30).start == "2024-04-01"
    assert period(None, None, default=-3).start == "2024-05-01"
    assert period(None, date(1, 1, 2)).start == "0001-01-01"  # before year 1: the first day there is


@pytest.mark.parametrize(
    ("start", "end", "detail"),
    [
        (date(2024, 3, 1), date(2024, 2, 1), "The period starts after it ends"),
        (date(2020, 1, 1), date(2024, 1, 1), "The period is over 1098"),
    ],
)
def test_refused_in_the_codecs_words(start: date, end: date, detail: str) -> None:
    with pytest.raises(PmpError) as refused:
        period(start, end)
    assert (refused.value.code, refused.value.detail) == (pb.ERROR_CODE_INVALID_REQUEST, detail)


def test_a_day_ahead_is_today_and_further_is_refused() -> None:
    assert period_day(date(2024, 4, 30), Place(), today=TODAY) == date(2024, 4, 30)
    assert period_day(date(2024, 5, 2), Place(), today=TODAY) == TODAY
    with pytest.raises(PmpError, match="The period is in the future"):
        period_day(date(2024, 5, 3), Place(), today=TODAY)
