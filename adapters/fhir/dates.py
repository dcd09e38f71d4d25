"""FHIR dates in, for ``$pdmp-history`` and ``whenhandedover``; the report period they bound is the rule every codec
shares (``adapters.period``), refused in FHIR's words (``PERIOD_TOO_LONG``).

A FHIR ``date``/``dateTime`` may be partial (``2024``, ``2024-05``): it then stands for the whole year or month,
so a period's start takes its first day and its end its last. Times are dropped (the store keeps calendar days);
the date is taken as written, in the sender's time zone. ``date.fromisoformat`` alone is not enough: on 3.11 it
also takes ``20240501`` and week dates, which FHIR does not.
"""

from __future__ import annotations

import calendar
import re
from datetime import date
from typing import Final

from adapters.fhir._json import At

PERIOD_TOO_LONG: Final = "is longer than the {days} days this PMP allows: narrow it"
_FULL_DATE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATE_TIME: Final = re.compile(
    r"(?P<y>[0-9]{4})(?:-(?P<m>[0-9]{2})(?:-(?P<d>[0-9]{2})"
    r"(?:T[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,9})?)?(?:Z|[+-][0-9]{2}:[0-9]{2}))?)?)?"
)


def full_date(text: str, at: At) -> date:
    """A complete ``YYYY-MM-DD`` (the IG's pdmp-full-birthdate rule); partial or impossible dates are refused."""
    if _FULL_DATE.fullmatch(text) is None:
        raise at.error("is not a full date (YYYY-MM-DD)")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise at.error("is not a valid calendar date") from None


def date_bounds(text: str, at: At) -> tuple[date, date]:
    """The first and last calendar day that a FHIR date or dateTime of any precision covers."""
    m = _DATE_TIME.fullmatch(text)
    if m is None:
        raise at.error("is not a FHIR date (YYYY, YYYY-MM or YYYY-MM-DD, optionally with a time)")
    year, month, day = int(m["y"]), m["m"], m["d"]
    try:
        if month is None:
            return date(year, 1, 1), date(year, 12, 31)
        mm = int(month)
        if day is None:
            return date(year, mm, 1), date(year, mm, calendar.monthrange(year, mm)[1])
        one = date(year, mm, int(day))
    except ValueError:
        raise at.error("is not a valid calendar date") from None
    return one, one
