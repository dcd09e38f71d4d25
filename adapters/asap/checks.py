"""Value checks for ASAP fields: dates, counts, decimals, NDCs, the zero-report period.

The reader calls these for every record, so they use ``str`` methods and no regex; dates are
memoised (a file repeats the same few hundred fill dates and birth dates) in a bounded cache.
``str.isdigit`` alone also accepts non-ASCII digits ("²", "٣"), hence the ``isascii`` guards.
"""

from __future__ import annotations

from datetime import date

# Text → is a date. Callers on a hot path may look here first (``DATE_CACHE.get(text) or
# is_date(text)``) to save a call; only is_date writes it.
DATE_CACHE: dict[str, bool] = {}
_DATE_CACHE_MAX = 65_536


def is_date(text: str) -> bool:
    """True when ``text`` is a real calendar date written ``CCYYMMDD``."""
    known = DATE_CACHE.get(text)
    if known is not None:
        return known
    if len(text) != 8:
        return False
    valid = _calendar_date(text)
    if len(DATE_CACHE) >= _DATE_CACHE_MAX:
        DATE_CACHE.clear()
    DATE_CACHE[text] = valid
    return valid


def _calendar_date(text: str) -> bool:
    """Uncached check of an 8-character candidate (20230231 is not a date)."""
    if not (text.isascii() and text.isdigit()):
        return False
    try:
        date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return False
    return True


def is_count(text: str) -> bool:
    """True for a non-negative integer in ASCII digits (no sign, no spaces)."""
    return text.isascii() and text.isdigit()


def is_positive_decimal(text: str) -> bool:
    """True for a decimal > 0 written with ASCII digits and at most one point: ``30``, ``2.5``, ``.5``."""
    if not text.isascii():
        return False
    if text.isdigit():
        return text.strip("0") != ""
    whole, point, fraction = text.partition(".")
    if not point or not fraction.isdigit() or (whole and not whole.isdigit()):
        return False
    return (whole + fraction).strip("0") != ""


def is_ndc(text: str) -> bool:
    """True for an 11-digit NDC (the 5-4-2 form without hyphens that ASAP requires)."""
    return len(text) == 11 and text.isascii() and text.isdigit()


def iso_date(ccyymmdd: str) -> str:
    """An ASAP date (CCYYMMDD, already checked) as ISO ``YYYY-MM-DD``; empty stays empty."""
    return f"{ccyymmdd[:4]}-{ccyymmdd[4:6]}-{ccyymmdd[6:8]}" if ccyymmdd else ""


def parse_period(message: str) -> tuple[str, str] | None:
    """The zero-report period ``#CCYYMMDD#-#CCYYMMDD#`` of IS03, or None if IS03 is not one."""
    text = message.strip()
    if len(text) != 21 or text[0] != "#" or text[9:12] != "#-#" or text[20] != "#":
        return None
    start, end = text[1:9], text[12:20]
    if is_date(start) and is_date(end) and start <= end:
        return start, end
    return None


def format_period(start: str, end: str) -> str:
    """IS03 text for a zero-report period (the inverse of :func:`parse_period`)."""
    return f"#{start}#-#{end}#"
