"""The report period every codec decodes: the same defaults and limits whatever the protocol.

A missing end is today; a missing start ``default_lookback_days`` before the end; a period that starts after it
ends, or spans more than ``max_lookback_days`` (the state's limit), is refused. Each codec reads its own dates and
words its own refusals (``too_long``); the XML codecs also refuse a day in the future (``period_day``).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Protocol

from protos.errors import PmpError
from protos.pmp.v1 import pmp_pb2 as pb


class Place(Protocol):
    """Where in the request a refusal points: a codec's element or JSON location."""

    def error(self, problem: str) -> PmpError: ...


def period_day(day: date, at: Place, *, today: date) -> date:
    """An end of the period as asked: refused past tomorrow (a day of grace for a sender whose day began before
    ours), else no later than today."""
    if day > today + timedelta(days=1):
        raise at.error("is in the future")
    return min(day, today)


def report_period(
    start: date | None,
    end: date | None,
    *,
    today: date,
    default_lookback_days: int,
    max_lookback_days: int,
    at: Place,
    too_long: str,
) -> pb.DateRange:
    """The date range to search, its missing ends defaulted; ``too_long`` (with ``{days}``) is the codec's words
    for a period over ``max_lookback_days``."""
    end = end or today
    if start is None:
        try:
            start = end - timedelta(days=max(0, min(default_lookback_days, max_lookback_days)))
        except OverflowError:
            start = date.min
    if start > end:
        raise at.error("starts after it ends")
    if (end - start).days > max_lookback_days:
        raise at.error(too_long.format(days=max_lookback_days))
    return pb.DateRange(start=start.isoformat(), end=end.isoformat())
